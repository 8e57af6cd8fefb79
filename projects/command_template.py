"""Entry-point command templates: where a `{name}` may go, and how values go in.

A value is substituted as one shell-quoted word (`shell_word`). That is safe
only where bash reads a plain word: at top level or directly inside `$(...)`.
Inside the author's own quotes, backquotes, arithmetic, `${...}`, a comment or
a here-document, the quoting is undone or never applies, and a value such as
`$(touch /tmp/p)` would run. A small scanner follows bash's quoting rules over
the template's literal text and refuses, at load time, any placeholder outside
a plain-word context. It errs on the side of refusing: when it cannot follow
the shell (a here-document, a `case` inside `$(...)`, quotes inside `${...}`),
every later placeholder is refused.

What a command does with the word it receives (`eval`, `bash -c`,
`[[ $x -eq 1 ]]`) is beyond quoting and stays the author's responsibility.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass

from mlcadence.projects.errors import InvalidParameters, InvalidProject

# Scanner contexts, and where messages say a placeholder (or the command's end) is.
TOP = "top level"
CONTEXT_PHRASES = {
    "single": "inside single quotes '...'",
    "double": 'inside double quotes "..."',
    "ansi": "inside $'...' quotes",
    "backquote": "inside backquotes `...`",
    "command": "inside a command substitution $(...)",
    "arithmetic": "inside an arithmetic expression $((...)), $[...] or ((...))",
    "parameter": "inside a parameter expansion ${...}",
    "comment": "inside a # comment",
    "escape": "right after a backslash \\",
    "dollar": "right after a $",
}
QUOTE_CONTEXTS = ("single", "double", "ansi")
# A substituted word is read as a plain word when every enclosing context is one of these
# and the innermost is not "double" (bash parses $(...) afresh, even inside "...").
PLAIN_WORD_CONTEXTS = (TOP, "command", "double")
# Characters after which a `#` starts a comment (bash: a word beginning with #).
WORD_BREAKS = " \t\n;&|()<>"


@dataclass
class _Frame:
    kind: str
    closer: str = ")"  # for arithmetic: `)` of `))`, or `]` of `$[...]`
    depth: int = 0  # open parentheses / brackets / braces inside this frame


class ShellScanner:
    """Follows bash's quoting over literal text fed in pieces; between pieces,
    `placeholder_problem()` says why a word inserted there would not be a
    plain word (None when it would be)."""

    def __init__(self) -> None:
        self.stack = [_Frame(TOP)]
        self.escaped = False  # the previous character was an unquoted backslash
        self.previous = ""  # the last character read
        self.lost: str | None = None  # why the scanner stopped trusting its state

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            previous = self.previous
            j = self._step(text, i, previous)
            self.previous = text[j - 1]  # the last character of what was consumed
            i = j

    def after_placeholder(self) -> None:
        self.previous = "x"  # a quoted word: not a word break, not a `$`

    def placeholder_problem(self) -> tuple[str, str] | None:
        """(phrase, kind): where a value inserted here would be, when that is not
        a plain word; None when it is."""
        innermost = self.stack[-1].kind
        if self.escaped:
            return CONTEXT_PHRASES["escape"], "escape"
        if self.previous == "$" and innermost not in ("single", "comment"):
            return CONTEXT_PHRASES["dollar"], "dollar"
        if self.lost:
            return self.lost, "lost"
        if innermost == "double":
            return CONTEXT_PHRASES["double"], "double"
        for frame in self.stack:
            if frame.kind not in PLAIN_WORD_CONTEXTS:
                return CONTEXT_PHRASES[frame.kind], frame.kind
        return None

    def tail_problem(self) -> str | None:
        """Where text appended after everything fed so far would be, when that is
        not plain words; None when it is."""
        problem = self.placeholder_problem()
        if problem is not None:
            return problem[0]
        if len(self.stack) > 1:
            return CONTEXT_PHRASES[self.stack[-1].kind]
        return None

    # -- one character (or operator) at a time; returns the next index

    def _step(self, text: str, i: int, previous: str) -> int:
        frame = self.stack[-1]
        char = text[i]
        if self.escaped:
            self.escaped = False
            return i + 1
        if frame.kind == "single":
            if char == "'":
                self.stack.pop()
            return i + 1
        if frame.kind == "comment":
            if char == "\n":
                self.stack.pop()
            return i + 1
        if char == "\\" and frame.kind != "single":
            self.escaped = True
            return i + 1
        if frame.kind == "ansi":
            if char == "'":
                self.stack.pop()
            return i + 1
        if frame.kind == "backquote":
            if char == "`":
                self.stack.pop()
            return i + 1
        if frame.kind == "double":
            if char == '"':
                self.stack.pop()
                return i + 1
            return self._expansion(text, i, in_double_quotes=True)
        if frame.kind == "parameter":
            return self._parameter(text, i, frame)
        return self._plain(text, i, frame, previous)

    def _expansion(self, text: str, i: int, in_double_quotes: bool) -> int:
        """`$...` and backquotes, which open a context in plain text and in "..."."""
        rest = text[i:]
        if rest.startswith("`"):
            self.stack.append(_Frame("backquote"))
            return i + 1
        if rest.startswith("$(("):
            self.stack.append(_Frame("arithmetic"))
            return i + 3
        if rest.startswith("$["):  # bash's old spelling of $((...))
            self.stack.append(_Frame("arithmetic", closer="]"))
            return i + 2
        if rest.startswith("$("):
            self.stack.append(_Frame("command"))
            return i + 2
        if rest.startswith("${"):
            self.stack.append(_Frame("parameter"))
            return i + 2
        if not in_double_quotes and rest.startswith("$'"):
            self.stack.append(_Frame("ansi"))
            return i + 2
        if not in_double_quotes and rest.startswith('$"'):
            self.stack.append(_Frame("double"))
            return i + 2
        return i + 1

    def _plain(self, text: str, i: int, frame: _Frame, previous: str) -> int:
        """Top level, $(...) and arithmetic: unquoted shell text."""
        char, rest = text[i], text[i:]
        at_word_start = previous == "" or previous in WORD_BREAKS
        if char == "'":
            self.stack.append(_Frame("single"))
            return i + 1
        if char == '"':
            self.stack.append(_Frame("double"))
            return i + 1
        if char in "$`":
            return self._expansion(text, i, in_double_quotes=False)
        if frame.kind == "arithmetic":
            return self._arithmetic_paren(text, i, frame)
        if rest.startswith(("<(", ">(")):
            self.stack.append(_Frame("command"))
            return i + 2
        if at_word_start and char == "#":
            self.stack.append(_Frame("comment"))
            return i + 1
        if at_word_start and rest.startswith("(("):
            self.stack.append(_Frame("arithmetic"))
            return i + 2
        if rest.startswith("<<<"):
            return i + 3
        if rest.startswith("<<"):
            self.lost = self.lost or "after a here-document (<<)"
            return i + 2
        if rest.startswith("=("):
            # An array assignment has its own parser, whose syntax errors bash
            # recovers from by resuming at the next line, wherever that is.
            self.lost = self.lost or "after an array assignment =(...)"
            return i + 2
        if frame.kind == "command":
            if at_word_start and rest.startswith("case") and rest[4:5].isspace():
                # `pattern)` in a case would close $(...) early for this scanner.
                self.lost = self.lost or "after a `case` inside $(...)"
            if char == "(":
                frame.depth += 1
            elif char == ")":
                if frame.depth:
                    frame.depth -= 1
                else:
                    self.stack.pop()
        return i + 1

    def _arithmetic_paren(self, text: str, i: int, frame: _Frame) -> int:
        char = text[i]
        opener = "(" if frame.closer == ")" else "["
        if char == opener:
            frame.depth += 1
        elif char == frame.closer:
            if frame.depth:
                frame.depth -= 1
            else:
                self.stack.pop()
                if frame.closer == ")" and text[i + 1 : i + 2] == ")":
                    return i + 2
        return i + 1

    def _parameter(self, text: str, i: int, frame: _Frame) -> int:
        char = text[i]
        if char == "{":
            frame.depth += 1
        elif char == "}":
            if frame.depth:
                frame.depth -= 1
            else:
                self.stack.pop()
        elif char in "'\"`" or text.startswith("$(", i):
            # Whether quotes count inside ${...} depends on the operator and
            # on the surrounding quotes; do not guess.
            self.lost = self.lost or "after quotes inside ${...}"
        return i + 1


def shell_word(value: str) -> str:
    """`value` as one bash word, with no raw newline in it: bash recovers from
    some syntax errors by resuming at the next line, and a newline inside
    quotes would be such a line start. Newlines are written as $'\\n'."""
    return "$'\\n'".join(shlex.quote(part) for part in value.split("\n"))


@dataclass(frozen=True)
class CommandTemplate:
    """A command split into literal text and placeholder names.

    `tail_problem` is why words appended after the command (undeclared
    parameters as `--name value`) would not be plain words, or None."""

    text: str
    pieces: tuple[tuple[str, str | None], ...]  # (literal, placeholder name or None)
    tail_problem: str | None

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.pieces if name is not None)

    def render(self, values: Mapping[str, str]) -> str:
        return "".join(
            literal + ("" if name is None else shell_word(values[name]))
            for literal, name in self.pieces
        )


def literal_command(text: str) -> CommandTemplate:
    """A command without placeholders, written by us (e.g. `python 'my job.py'`)."""
    return CommandTemplate(text, ((text, None),), _scan_tail(text))


def _scan_tail(text: str) -> str | None:
    scanner = ShellScanner()
    scanner.feed(text)
    return scanner.tail_problem()


def parse_command(text: str, entry_point: str) -> CommandTemplate:
    """Parse the command of MLproject entry point `entry_point`."""
    where = f"MLproject `entry_points.{entry_point}.command` (entry point '{entry_point}')"
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InvalidProject(
            f"{where} is not a valid template ({exc}). "
            "Write parameters as {name} and double literal braces: {{ }}."
        ) from None
    pieces: list[tuple[str, str | None]] = []
    pending = ""  # literal text is split at `{{`; join it so the scanner sees operators whole
    scanner = ShellScanner()
    for literal, name, spec, conversion in parts:
        pending += literal
        if name is None:
            continue
        _check_field(name, spec, conversion, where)
        scanner.feed(pending)
        problem = scanner.placeholder_problem()
        if problem is not None:
            raise InvalidProject(_placeholder_message(where, name, *problem))
        scanner.after_placeholder()
        pieces.append((pending, name))
        pending = ""
    scanner.feed(pending)
    pieces.append((pending, None))
    return CommandTemplate(text, tuple(pieces), scanner.tail_problem())


def _check_field(name: str, spec: str | None, conversion: str | None, where: str) -> None:
    if not name.isidentifier():
        raise InvalidProject(
            f"{where} uses '{{{name}}}', which is not a parameter name. "
            "Name the parameter inside the braces, or double literal braces: {{ }}."
        )
    if conversion is not None or spec:
        written = (
            "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        )
        written += "}"
        raise InvalidProject(
            f"{where} uses '{written}': conversions (!r, !s) and format specs "
            "(:>10) are not supported, because values are inserted as shell-quoted text. "
            f"Write '{{{name}}}' and format the value in the program."
        )


def _placeholder_message(where: str, name: str, phrase: str, kind: str) -> str:
    if kind in QUOTE_CONTEXTS:
        fix = f"Remove the quotes around {{{name}}}: values are quoted for you."
    elif kind in ("escape", "dollar"):
        fix = f"Remove that character or put a space between it and {{{name}}}."
    else:
        fix = (
            f"Use {{{name}}} only as a plain argument, e.g. `python train.py --{name} {{{name}}}`, "
            "and do the rest in the program."
        )
    return (
        f"{where} puts '{{{name}}}' {phrase}, "
        f"where a substituted value could run as shell code. {fix}"
    )


def append_flags(template: CommandTemplate, entry_point: str, extra: Mapping[str, str]) -> str:
    """Undeclared parameters become ` --name value` after the command, as in MLflow."""
    if not extra:
        return ""
    if template.tail_problem is not None:
        names = ", ".join(f"'{k}'" for k in extra)
        raise InvalidParameters(
            f"The command of entry point '{entry_point}' ends {template.tail_problem}, so the "
            f"undeclared parameters {names} cannot be appended as --name value. Declare them "
            f"under entry_points.{entry_point}.parameters and use them as {{name}}, or end the "
            "command with plain text."
        )
    return "".join(f" --{shell_word(k)} {shell_word(v)}" for k, v in extra.items())
