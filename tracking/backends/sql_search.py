"""`tracking.search` clauses and order keys as ONE SQL query over runs.

Each filter clause on a metric, param or tag becomes `run_id IN (SELECT
run_id FROM <table> WHERE key = ... AND value <op> ...)`, which can use the
(key, value) indexes; each order key on one of them becomes a
LEFT JOIN so that runs without the key still appear (sorted last, as
`tracking.search.sort_runs` does). The result is the ordered, limited list
of run rows; the caller loads params, tags and metrics for those runs only.

Semantics follow `tracking.search` (the in-memory reference), including the
corner cases: a clause on a key the run lacks never matches (except IS NULL),
NaN metrics are stored as NULL (so never <, >, = but always !=), LIKE is
case-sensitive with `%`/`_` as the only wildcards and no escape character.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    not_,
    or_,
    select,
)

from mlcadence.tracking.backends import sql_schema as s
from mlcadence.tracking.search import (
    ATTRIBUTE,
    DEFAULT_ORDER,
    METRIC,
    PARAM,
    TAG,
    Clause,
    OrderKey,
    like_regex,
    translate_like,
)

ATTRIBUTE_COLUMNS = {
    "run_id": s.runs.c.run_id,
    "run_name": s.runs.c.name,
    "status": s.runs.c.status,
    "start_time": s.runs.c.start_time,
    "end_time": s.runs.c.end_time,
    "artifact_uri": s.runs.c.artifact_uri,
    "user_id": s.runs.c.user_id,
    "lifecycle_stage": s.runs.c.lifecycle_stage,
}
KEYED_TABLES = {METRIC: s.latest_metrics, PARAM: s.params, TAG: s.tags}


# -- LIKE without an escape character, on every dialect ----------------------------
_GLOB_LITERAL = {"*": "[*]", "?": "[?]", "[": "[[]"}


def _glob_pattern(pattern: str, ignore_case: bool) -> str:
    # SQLite's LIKE folds ASCII case only; GLOB is case-sensitive and has no
    # escape character either, so metacharacters are bracketed and, for
    # ILIKE, each letter becomes the class of its case variants ([äÄ]), the
    # same table the in-memory reference uses.
    return translate_like(
        pattern,
        ignore_case,
        any_run="*",
        one_char="?",
        letter_class=lambda variants: f"[{variants}]",
        literal=lambda ch: _GLOB_LITERAL.get(ch, ch),
    )


# GLOB (like every SQLite string function but instr and =) stops reading text
# at a NUL. The rare value holding one is matched by the in-memory reference
# instead, registered on each SQLite connection; every other row stays in C.
SQLITE_LIKE_FUNCTION = "mlc_like"


def _python_like(value: str | None, pattern: str, ignore_case: int) -> int | None:
    if value is None:
        return None
    return like_regex(pattern, bool(ignore_case)).match(value) is not None


def register_sqlite_functions(dbapi_connection) -> None:
    """The SQL functions our queries call; `sql_engine` registers them on
    each SQLite connection it opens."""
    dbapi_connection.create_function(SQLITE_LIKE_FUNCTION, 3, _python_like, deterministic=True)


def _sqlite_glob(column, pattern: str, ignore_case: bool) -> ColumnElement:
    has_nul = func.instr(column, func.char(0)) > 0
    by_python = getattr(func, SQLITE_LIKE_FUNCTION)(column, pattern, int(ignore_case)) == 1
    if "\x00" in pattern:
        return and_(has_nul, by_python)  # a NUL in the pattern needs one in the value
    by_glob = column.op("GLOB")(_glob_pattern(pattern, ignore_case))
    matches = case((has_nul, by_python), else_=by_glob)
    prefix = _literal_prefix(pattern)
    if ignore_case or not prefix or prefix[-1] == chr(0x10FFFF):
        return matches
    # The CASE hides the pattern from SQLite's LIKE optimisation, so the range
    # it would derive from the literal prefix is stated here: the (key, value)
    # index then narrows the rows before any pattern is tried.
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:
        following = 0xE000  # surrogates are not text (and sort as UTF-8 would place them)
    upper = prefix[:-1] + chr(following)
    return and_(column >= prefix, column < upper, matches)


def _literal_prefix(pattern: str) -> str:
    for index, ch in enumerate(pattern):
        if ch in "%_":
            return pattern[:index]
    return pattern


def _sqlite_like(column, pattern: str) -> ColumnElement:
    return _sqlite_glob(column, pattern, ignore_case=False)


def _sqlite_ilike(column, pattern: str) -> ColumnElement:
    return _sqlite_glob(column, pattern, ignore_case=True)


def _backslash_literal(pattern: str) -> str:
    # PostgreSQL's LIKE treats backslash as its escape; doubling keeps it literal.
    return pattern.replace("\\", "\\\\")


def _pg_like(column, pattern: str) -> ColumnElement:
    return column.like(_backslash_literal(pattern))


def _pg_ilike(column, pattern: str) -> ColumnElement:
    return column.ilike(_backslash_literal(pattern))


LIKE_BY_DIALECT: dict[str, dict[str, Callable]] = {
    "sqlite": {"LIKE": _sqlite_like, "ILIKE": _sqlite_ilike},
    "postgresql": {"LIKE": _pg_like, "ILIKE": _pg_ilike},
}


# -- text a dialect cannot store ---------------------------------------------------
# PostgreSQL text cannot hold NUL (its driver refuses such a parameter), so no
# stored value contains one: a comparison with such a value is decided here,
# exactly as it would come out, instead of being sent.
def _storable_on_postgresql(text: str) -> bool:
    return "\x00" not in text


def _unstorable_comparison(column, op: str, value) -> ColumnElement | None:
    """The condition for a comparison whose value no stored text can equal or
    (as a pattern) match, or None when the value is storable."""
    if op in ("IN", "NOT IN"):
        return None  # the list is filtered instead
    if not isinstance(value, str) or _storable_on_postgresql(value):
        return None
    # A NUL in a LIKE pattern must match a NUL in the value, so nothing matches.
    return column.is_not(None) if op == "!=" else false()


def _comparison(column, op: str, value, dialect: str) -> ColumnElement:
    if dialect == "postgresql":
        decided = _unstorable_comparison(column, op, value)
        if decided is not None:
            return decided
        if op in ("IN", "NOT IN"):
            value = [v for v in value if _storable_on_postgresql(v)]
    if op in ("LIKE", "ILIKE"):
        return LIKE_BY_DIALECT[dialect][op](column, value)
    if op == "IN":
        return column.in_(list(value))
    if op == "NOT IN":
        return column.not_in(list(value))
    return {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }[op](value)


def _keyed_clause(clause: Clause, dialect: str) -> ColumnElement:
    table = KEYED_TABLES[clause.kind]
    owned = and_(table.c.run_id == s.runs.c.run_id, table.c.key == clause.key)
    if clause.op == "IS NULL":
        return not_(exists().where(owned))
    if clause.op == "IS NOT NULL":
        return exists().where(owned)
    condition = _comparison(table.c.value, clause.op, clause.value, dialect)
    if clause.kind == METRIC and clause.op == "!=":
        # NaN (stored as NULL) differs from every number, as in Python.
        condition = or_(condition, table.c.is_nan)
    # IN (subquery) rather than a correlated EXISTS: the planner may then
    # drive the search from the (key, value) index when the filter is selective.
    matching = select(table.c.run_id).where(table.c.key == clause.key, condition)
    return s.runs.c.run_id.in_(matching)


def _attribute_clause(clause: Clause, dialect: str) -> ColumnElement:
    column = ATTRIBUTE_COLUMNS[clause.key]
    if clause.op == "IS NULL":
        return column.is_(None)
    if clause.op == "IS NOT NULL":
        return column.is_not(None)
    return _comparison(column, clause.op, clause.value, dialect)


def where_clause(clause: Clause, dialect: str) -> ColumnElement:
    if clause.kind == ATTRIBUTE:
        return _attribute_clause(clause, dialect)
    return _keyed_clause(clause, dialect)


# -- ordering -----------------------------------------------------------------
def _binary_order(column, dialect: str):
    # Python compares strings by code point; PostgreSQL's default collation
    # does not (it folds case), so text is ordered under "C" there.
    if dialect == "postgresql" and column.type.python_type is str:
        return column.collate("C")
    return column


def _order_columns(query: Select, order_keys: Sequence[OrderKey], dialect: str):
    columns = []
    for index, key in enumerate(order_keys):
        if key.kind == ATTRIBUTE:
            column = ATTRIBUTE_COLUMNS[key.key]
        else:
            table = KEYED_TABLES[key.kind].alias(f"order_{index}")
            query = query.outerjoin(
                table, and_(table.c.run_id == s.runs.c.run_id, table.c.key == key.key)
            )
            column = table.c.value
        # Missing (and NaN, stored as NULL) sorts last in either direction.
        if column.nullable or key.kind != ATTRIBUTE:
            columns.append(column.is_(None))
        ordered = _binary_order(column, dialect)
        columns.append(ordered.asc() if key.ascending else ordered.desc())
    return query, columns


def build_search_query(
    experiment_ids: Sequence[int],
    lifecycle_stages: Sequence[str],
    clauses: Sequence[Clause],
    order_keys: Sequence[OrderKey],
    max_results: int,
    dialect: str,
) -> Select:
    """SELECT of run rows matching everything, in MLflow's order, LIMITed."""
    query = select(s.runs)
    conditions = [
        s.runs.c.experiment_id.in_(list(experiment_ids)) if experiment_ids else false(),
        s.runs.c.lifecycle_stage.in_(list(lifecycle_stages)),
    ]
    conditions += [where_clause(c, dialect) for c in clauses]
    query, order = _order_columns(query, [*order_keys, *DEFAULT_ORDER], dialect)
    return query.where(*conditions).order_by(*order).limit(max(0, int(max_results)))


__all__ = ["build_search_query", "where_clause", "ATTRIBUTE_COLUMNS"]
