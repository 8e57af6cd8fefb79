"""MLflow's run-search grammar: parse filter strings and order-by lists, and
evaluate them in memory.

Filter grammar (clauses joined by AND, keywords case-insensitive):

    clause     := identifier op value
    identifier := prefix "." key | attribute
    prefix     := metric(s) | param(s) | parameter(s) | tag(s) | attribute(s) | attr | run
    key        := bare_key | `quoted key` | "quoted key"
    op         := = != < <= > >= LIKE ILIKE IN "NOT IN" "IS NULL" "IS NOT NULL"
    value      := number | 'string' | "string" | ( 'a', 'b', ... )

A parsed filter is a list of `Clause` records, which are deliberately plain so
that the SQL backend can translate them to SQL one for one:

- `kind` is "metric", "param", "tag" or "attribute".
- `key` is the metric/param/tag key, or a canonical attribute name
  (one of ATTRIBUTES; aliases like `created` or `run name` are resolved).
- `op` is upper case, one of OPS (`<>` is normalised to `!=`).
- `value` is a float for metrics, an int for time attributes (ms), a str for
  params, tags and string attributes, a tuple of str for IN / NOT IN, and None
  for IS NULL / IS NOT NULL.

Semantics (MLflow's): a clause on a metric, param or tag the run does not have
never matches (not even `!=`), except IS NULL. LIKE is case-sensitive with
`%` (any run of characters) and `_` (one character) as the only wildcards and
no escape character; ILIKE is the same, ignoring case. `attributes.status` is
compared against the status name ('FINISHED').

Limits, checked here so every backend refuses the same inputs with the same
`InvalidInput` (rather than an OverflowError, a RecursionError or a database
error): at most MAX_CLAUSES clauses, MAX_IN_VALUES values across all IN lists
and MAX_ORDER_KEYS order-by keys; numbers within a 64-bit double (metrics) or
a 64-bit integer (times); no NUL character in a key (no key can hold one) and
no text that cannot be encoded as UTF-8. String values may hold any other
character, NUL included.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mlcadence.tracking.entities import Run
from mlcadence.tracking.errors import InvalidInput

METRIC, PARAM, TAG, ATTRIBUTE = "metric", "param", "tag", "attribute"

# Each metric/param/tag clause is a semi-join: PostgreSQL plans 80 of them on
# one key in about half a second and 100 in minutes, so a search stays well
# below that (SQLite's own limits, expression depth 1000 and 64 joined tables
# for order keys, are further still), and far above any hand-written search.
MAX_CLAUSES = 50
MAX_IN_VALUES = 10_000  # one bound parameter each; SQLite allows 32766
MAX_ORDER_KEYS = 20
# Start and end times are stored as signed 64-bit integers.
MIN_TIME, MAX_TIME = -(2**63), 2**63 - 1

# Every spelling of a prefix MLflow accepts -> our kind.
PREFIXES: dict[str, str] = {
    "metric": METRIC,
    "metrics": METRIC,
    "param": PARAM,
    "params": PARAM,
    "parameter": PARAM,
    "parameters": PARAM,
    "tag": TAG,
    "tags": TAG,
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
}

NUMERIC_ATTRIBUTES = ("start_time", "end_time")
STRING_ATTRIBUTES = ("run_id", "run_name", "status", "artifact_uri", "user_id", "lifecycle_stage")
ATTRIBUTES = NUMERIC_ATTRIBUTES + STRING_ATTRIBUTES
ATTRIBUTE_ALIASES: dict[str, str] = {
    "created": "start_time",
    "Created": "start_time",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
    "runName": "run_name",
}

NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")
OPS = NUMERIC_OPS + ("LIKE", "ILIKE", "IN", "NOT IN") + NULL_OPS

# Which operators each kind of left-hand side accepts, and what value it wants.
_ALLOWED_OPS: dict[str, tuple[str, ...]] = {
    METRIC: NUMERIC_OPS,
    PARAM: STRING_OPS + NULL_OPS,
    TAG: STRING_OPS + NULL_OPS,
    "numeric_attribute": NUMERIC_OPS,
    "string_attribute": STRING_OPS,
}
_EXAMPLES: dict[str, str] = {
    METRIC: "metrics.acc > 0.9",
    PARAM: "params.model = 'rf'",
    TAG: "tags.`mlflow.runName` LIKE 'train%'",
    "numeric_attribute": "attributes.start_time >= 1700000000000",
    "string_attribute": "attributes.status = 'FINISHED'",
}


@dataclass(frozen=True)
class Clause:
    kind: str
    key: str
    op: str
    value: float | int | str | tuple[str, ...] | None


@dataclass(frozen=True)
class OrderKey:
    kind: str
    key: str
    ascending: bool = True


DEFAULT_ORDER = (OrderKey(ATTRIBUTE, "start_time", False), OrderKey(ATTRIBUTE, "run_id", True))


# --------------------------------------------------------------------------
# scanning
_WS = re.compile(r"\s*")
_PREFIX = re.compile(r"([A-Za-z_]+)\.")
_BARE_KEY = re.compile(r"[\w.\-/:]+")
_BARE_ATTR = re.compile(r"\w+")
_SYMBOL_OP = re.compile(r"<=|>=|!=|<>|==|=|<|>")
_WORD_OP = re.compile(r"(NOT\s+IN|IN|I?LIKE|IS\s+NOT\s+NULL|IS\s+NULL)(?![\w])", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_INTEGER = re.compile(r"[-+]?\d+")
_AND = re.compile(r"AND(?![\w])", re.IGNORECASE)
_OR = re.compile(r"OR(?![\w])", re.IGNORECASE)
_DIRECTION = re.compile(r"(ASC|DESC)(?![\w])", re.IGNORECASE)


_SHOWN = 200  # characters of the input an error message repeats


class _Scanner:
    """A cursor over one filter or order-by string; errors name the whole input."""

    def __init__(self, text: str, what: str, example: str):
        self.text = text
        self.pos = 0
        self.what = what
        self.example = example
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            # Lone surrogates (e.g. from JSON "\ud800") cannot reach any database.
            raise self.fail(
                f"the character at position {exc.start} is not valid Unicode text "
                "(a lone surrogate); remove it"
            ) from None

    def fail(self, message: str, example: str | None = None) -> InvalidInput:
        shown = self.text if len(self.text) <= _SHOWN else self.text[:_SHOWN] + "..."
        # Escaped so the message itself prints and logs anywhere.
        shown = shown.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
        return InvalidInput(
            f"Invalid {self.what} '{shown}': {message}, e.g. {example or self.example}"
        )

    def skip_ws(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.text)

    def match(self, pattern: re.Pattern) -> re.Match | None:
        self.skip_ws()
        m = pattern.match(self.text, self.pos)
        if m:
            self.pos = m.end()
        return m

    def where(self) -> str:
        rest = self.text[self.pos :]
        return f"at '{rest[:20]}'" if rest else "at the end"

    def quoted(self, quote: str) -> str:
        """Body of a quoted run starting at self.pos; a doubled quote or a
        backslash before the quote stands for the quote itself."""
        assert self.text[self.pos] == quote
        i = self.pos + 1
        out = []
        while i < len(self.text):
            ch = self.text[i]
            if ch == "\\" and i + 1 < len(self.text) and self.text[i + 1] in (quote, "\\"):
                out.append(self.text[i + 1])
                i += 2
                continue
            if ch == quote:
                if i + 1 < len(self.text) and self.text[i + 1] == quote:
                    out.append(quote)
                    i += 2
                    continue
                self.pos = i + 1
                return "".join(out)
            out.append(ch)
            i += 1
        raise self.fail(f"unterminated {quote}-quoted text starting {self.where()}")

    def identifier(self) -> tuple[str, str]:
        """(kind, key) with attribute aliases resolved."""
        self.skip_ws()
        start = self.pos
        prefix = _PREFIX.match(self.text, self.pos)
        if prefix and prefix.group(1).lower() in PREFIXES:
            kind = PREFIXES[prefix.group(1).lower()]
            self.pos = prefix.end()
            key = self._key(bare=_BARE_KEY)
        elif prefix:
            raise self.fail(
                f"unknown prefix '{prefix.group(1)}'; use metrics., params., tags. or attributes."
            )
        else:
            # A bare name is an attribute, as in MLflow (`start_time`, `status`).
            kind = ATTRIBUTE
            key = self._key(bare=_BARE_ATTR)
        if not key:
            self.pos = start
            raise self.fail(f"expected a key such as metrics.<name> {self.where()}")
        if "\x00" in key:
            # No stored key can hold NUL, and a file store would hand it to open().
            raise self.fail(f"the key {key!r} contains a NUL character; remove it")
        if kind == ATTRIBUTE:
            key = ATTRIBUTE_ALIASES.get(key, key)
            if key not in ATTRIBUTES:
                raise self.fail(
                    f"unknown attribute '{key}'; valid attributes are {', '.join(ATTRIBUTES)}",
                    "attributes.status = 'FINISHED'",
                )
        return kind, key

    def _key(self, bare: re.Pattern) -> str:
        if self.pos < len(self.text) and self.text[self.pos] in '`"':
            return self.quoted(self.text[self.pos])
        m = bare.match(self.text, self.pos)
        if not m:
            return ""
        self.pos = m.end()
        return m.group(0)


# --------------------------------------------------------------------------
# filters
def _lhs_class(kind: str, key: str) -> str:
    if kind != ATTRIBUTE:
        return kind
    return "numeric_attribute" if key in NUMERIC_ATTRIBUTES else "string_attribute"


def _parse_value(sc: _Scanner, lhs: str, op: str):
    example = _EXAMPLES[lhs]
    sc.skip_ws()
    if op in NULL_OPS:
        return None
    if op in ("IN", "NOT IN"):
        if not sc.match(re.compile(r"\(")):
            raise sc.fail(
                f"expected a parenthesised list after {op}", "attributes.run_id IN ('a1', 'b2')"
            )
        items: list[str] = []
        while True:
            sc.skip_ws()
            if sc.pos < len(sc.text) and sc.text[sc.pos] in "'\"":
                items.append(sc.quoted(sc.text[sc.pos]))
            else:
                raise sc.fail(
                    f"expected a quoted string in the {op} list {sc.where()}",
                    "attributes.run_id IN ('a1', 'b2')",
                )
            if sc.match(re.compile(r",")):
                continue
            if sc.match(re.compile(r"\)")):
                return tuple(items)
            raise sc.fail(
                f"expected ',' or ')' in the {op} list {sc.where()}",
                "params.model IN ('rf', 'svm')",
            )
    if sc.pos < len(sc.text) and sc.text[sc.pos] in "'\"":
        text = sc.quoted(sc.text[sc.pos])
        if lhs in (METRIC, "numeric_attribute"):
            raise sc.fail(f"expected a number, not the string '{text}'", example)
        return text
    number = sc.match(_NUMBER)
    if number:
        if lhs == METRIC:
            return _metric_number(sc, number.group(0))
        if lhs == "numeric_attribute":
            return _time_number(sc, number.group(0))
        raise sc.fail(
            f"expected a quoted string, not the number {number.group(0)} "
            "(params, tags and string attributes are compared as text)",
            example,
        )
    raise sc.fail(f"expected a value {sc.where()}", example)


def _metric_number(sc: _Scanner, text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise sc.fail(
            f"the number {text} is out of range; metrics compare against 64-bit doubles, "
            f"at most {sys.float_info.max:g} in magnitude",
            _EXAMPLES[METRIC],
        )
    return value


def _time_number(sc: _Scanner, text: str) -> int:
    # Integers are read exactly: as a float, 2**63 - 1 would round up out of range.
    # (Longer digit strings go through float, which int() would refuse past 4300.)
    exact = _INTEGER.fullmatch(text) and len(text) <= 21
    value = int(text) if exact else float(text)
    if math.isinf(value) or not MIN_TIME <= value <= MAX_TIME:
        raise sc.fail(
            f"the number {text} is out of range; times are epoch milliseconds "
            f"between {MIN_TIME} and {MAX_TIME}",
            _EXAMPLES["numeric_attribute"],
        )
    return int(value)


def _parse_clause(sc: _Scanner) -> Clause:
    kind, key = sc.identifier()
    lhs = _lhs_class(kind, key)
    m = sc.match(_SYMBOL_OP) or sc.match(_WORD_OP)
    if not m:
        raise sc.fail(f"expected a comparison operator after '{key}' {sc.where()}", _EXAMPLES[lhs])
    op = " ".join(m.group(0).upper().split())
    op = {"<>": "!=", "==": "="}.get(op, op)
    if op not in _ALLOWED_OPS[lhs]:
        raise sc.fail(
            f"operator {op} cannot be used with {lhs.replace('_', ' ')} '{key}'; "
            f"use one of {', '.join(_ALLOWED_OPS[lhs])}",
            _EXAMPLES[lhs],
        )
    return Clause(kind, key, op, _parse_value(sc, lhs, op))


@functools.lru_cache(maxsize=256)
def _parse_filter_cached(text: str) -> tuple[Clause, ...]:
    sc = _Scanner(text, "filter", "metrics.acc > 0.9 AND params.model = 'rf'")
    clauses: list[Clause] = []
    in_values = 0
    while not sc.at_end():
        if len(clauses) == MAX_CLAUSES:
            raise sc.fail(f"a filter may have at most {MAX_CLAUSES} clauses; narrow it")
        clause = _parse_clause(sc)
        if isinstance(clause.value, tuple):
            in_values += len(clause.value)
            if in_values > MAX_IN_VALUES:
                raise sc.fail(
                    f"IN lists may hold at most {MAX_IN_VALUES} values in all; "
                    "split the search into several"
                )
        clauses.append(clause)
        if sc.at_end():
            break
        if sc.match(_OR):
            raise sc.fail("OR is not supported; join clauses with AND")
        if not sc.match(_AND):
            raise sc.fail(f"expected AND between clauses {sc.where()}")
        if sc.at_end():
            raise sc.fail("expected a clause after AND")
    return tuple(clauses)


def parse_filter(filter_string: str | None) -> list[Clause]:
    """Clauses of an MLflow run filter; "" or None means no filter."""
    if not filter_string:
        return []
    if not isinstance(filter_string, str):
        raise InvalidInput(
            f"Invalid filter {filter_string!r}: expected a string, e.g. metrics.acc > 0.9"
        )
    return list(_parse_filter_cached(filter_string))


def parse_order_by(order_by: Sequence[str] | str | None) -> list[OrderKey]:
    """["metrics.acc DESC", "start_time"] -> OrderKeys (ascending by default)."""
    if not order_by:
        return []
    order_by = [order_by] if isinstance(order_by, str) else list(order_by)
    if len(order_by) > MAX_ORDER_KEYS:
        raise InvalidInput(
            f"Invalid order_by: {len(order_by)} keys given, at most {MAX_ORDER_KEYS} are "
            "allowed; order by fewer keys, e.g. ['metrics.acc DESC']"
        )
    keys: list[OrderKey] = []
    for text in order_by:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(
                f"Invalid order_by clause {text!r}: expected '<key> [ASC|DESC]', "
                "e.g. metrics.acc DESC"
            )
        sc = _Scanner(text, "order_by clause", "metrics.acc DESC")
        kind, key = sc.identifier()
        direction = sc.match(_DIRECTION)
        if not sc.at_end():
            raise sc.fail(f"expected ASC or DESC {sc.where()}")
        keys.append(OrderKey(kind, key, not (direction and direction.group(1).upper() == "DESC")))
    return keys


# --------------------------------------------------------------------------
# evaluation
@functools.cache
def _same_letter_table() -> dict[str, str]:
    """{lower case letter: every character whose lower case it is}, built once.
    Cased letters all lie below U+20000."""
    table: dict[str, str] = {}
    for code in range(0x20000):
        ch = chr(code)
        lower = ch.lower()
        if len(lower) == 1 and lower != ch:
            table[lower] = table.get(lower, lower) + ch
    return table


def same_letter(ch: str) -> str:
    """Every character ILIKE treats as `ch`: those with the same one-character
    lower case (as PostgreSQL's ILIKE, which lowers both sides), for any
    script, so 'ä' matches 'Ä'. The in-memory reference and SQLite both build
    their ILIKE from this one table."""
    lower = ch.lower()
    if len(lower) != 1:
        return ch
    return _same_letter_table().get(lower, ch)


def translate_like(
    pattern: str,
    ignore_case: bool,
    *,
    any_run: str,
    one_char: str,
    letter_class: Callable[[str], str],
    literal: Callable[[str], str],
) -> str:
    """A SQL LIKE pattern in another pattern language: `%` and `_` become
    `any_run` and `one_char`; under `ignore_case` a letter with case variants
    becomes `letter_class(variants)`; anything else `literal(ch)`."""
    out = []
    for ch in pattern:
        variants = same_letter(ch) if ignore_case else ch
        if ch == "%":
            out.append(any_run)
        elif ch == "_":
            out.append(one_char)
        elif len(variants) > 1:
            out.append(letter_class(variants))
        else:
            out.append(literal(ch))
    return "".join(out)


@functools.lru_cache(maxsize=512)
def like_regex(pattern: str, ignore_case: bool = False) -> re.Pattern:
    """A SQL LIKE pattern as an anchored regex (`%` any run, `_` one char)."""
    body = translate_like(
        pattern,
        ignore_case,
        any_run=".*",
        one_char=".",
        letter_class=lambda variants: "[" + "".join(map(re.escape, variants)) + "]",
        literal=re.escape,
    )
    return re.compile(body + r"\Z", re.DOTALL)


_COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "LIKE": lambda lhs, pattern: like_regex(pattern).match(lhs) is not None,
    "ILIKE": lambda lhs, pattern: like_regex(pattern, True).match(lhs) is not None,
    "IN": lambda lhs, values: lhs in values,
    "NOT IN": lambda lhs, values: lhs not in values,
}


def attribute_value(run: Run, key: str):
    """The run's attribute as search compares it (status by name)."""
    value = getattr(run.info, key)
    if key == "status":
        return getattr(value, "name", value)
    return value


def _lhs_value(run: Run, kind: str, key: str):
    if kind == METRIC:
        return run.data.metrics.get(key)
    if kind == PARAM:
        return run.data.params.get(key)
    if kind == TAG:
        return run.data.tags.get(key)
    return attribute_value(run, key)


def clause_matches(run: Run, clause: Clause) -> bool:
    lhs = _lhs_value(run, clause.kind, clause.key)
    if clause.op == "IS NULL":
        return lhs is None
    if clause.op == "IS NOT NULL":
        return lhs is not None
    if lhs is None:
        return False
    return _COMPARE[clause.op](lhs, clause.value)


def run_matches(run: Run, clauses: Iterable[Clause]) -> bool:
    return all(clause_matches(run, c) for c in clauses)


def filter_runs(runs: Iterable[Run], clauses: Sequence[Clause]) -> list[Run]:
    return [r for r in runs if run_matches(r, clauses)]


def _present(value) -> bool:
    """Neither absent nor NaN (the only value unequal to itself here)."""
    return value is not None and value == value  # noqa: PLR0124 - the NaN test


_DATA_FIELDS = {METRIC: "metrics", PARAM: "params", TAG: "tags"}


def _value_getter(kind: str, key: str) -> Callable[[Run], object]:
    """run -> the value an order key compares (as _lhs_value, with the
    dispatch done once per sort rather than once per run)."""
    if kind == ATTRIBUTE:
        if key == "status":
            return lambda run: attribute_value(run, key)
        return operator.attrgetter("info." + key)
    field = _DATA_FIELDS[kind]
    return lambda run: getattr(run.data, field).get(key)


def sort_runs(runs: Iterable[Run], order_keys: Sequence[OrderKey] = ()) -> list[Run]:
    """MLflow's order: by each key in turn, runs lacking a key (or NaN) last in
    either direction, ties broken by start_time DESC then run_id ASC."""
    ordered = sorted(runs, key=lambda r: (-(r.info.start_time or 0), r.info.run_id))
    # Stable sorts from the least to the most significant key.
    for ok in reversed(order_keys):
        value_of = _value_getter(ok.kind, ok.key)
        keyed = [(value_of(run), run) for run in ordered]
        present = [pair for pair in keyed if _present(pair[0])]
        missing = (
            [run for value, run in keyed if not _present(value)]
            if len(present) < len(keyed)
            else []
        )
        present.sort(key=operator.itemgetter(0), reverse=not ok.ascending)
        ordered = [run for _, run in present] + missing
    return ordered


def referenced_keys(
    clauses: Iterable[Clause], order_keys: Iterable[OrderKey] = ()
) -> dict[str, set[str]]:
    """{kind: keys} a filter plus order needs, so a store can load only those."""
    needed: dict[str, set[str]] = {METRIC: set(), PARAM: set(), TAG: set(), ATTRIBUTE: set()}
    for item in (*clauses, *order_keys):
        needed[item.kind].add(item.key)
    return needed
