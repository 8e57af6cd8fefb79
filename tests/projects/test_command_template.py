"""The command-template scanner: which placeholders are plain words (accepted,
value shell-quoted) and which are not (refused at load with a fix)."""

from __future__ import annotations

import subprocess

import pytest

from mlcadence.projects.command_template import (
    append_flags,
    literal_command,
    parse_command,
    shell_word,
)
from mlcadence.projects.errors import InvalidParameters, InvalidProject

VALUE = "a b'$(c)"
QUOTED = "'a b'\"'\"'$(c)'"

# (template, expected command with x=VALUE)
ACCEPTED = [
    pytest.param("run {x}", f"run {QUOTED}", id="bare"),
    pytest.param("run --x={x}", f"run --x={QUOTED}", id="bare-after-equals"),
    pytest.param("run {x}{x}", f"run {QUOTED}{QUOTED}", id="adjacent"),
    pytest.param("run $(echo {x})", f"run $(echo {QUOTED})", id="command-substitution"),
    pytest.param('run "$(echo {x})"', f'run "$(echo {QUOTED})"', id="quoted-substitution"),
    pytest.param("run <(echo {x})", f"run <(echo {QUOTED})", id="process-substitution"),
    pytest.param("a 'q' \"d\" {x}", f"a 'q' \"d\" {QUOTED}", id="after-closed-quotes"),
    pytest.param("a \\' {x}", f"a \\' {QUOTED}", id="after-escaped-quote"),
    pytest.param(
        "a `b` $((1+(2))) $[a[1]] {x}",
        f"a `b` $((1+(2))) $[a[1]] {QUOTED}",
        id="after-closed-expansions",
    ),
    pytest.param("a ${{HOME}} {x}", f"a ${{HOME}} {QUOTED}", id="after-parameter-expansion"),
    pytest.param("a # c\nrun {x}", f"a # c\nrun {QUOTED}", id="after-comment-line"),
    pytest.param("a#b {x}", f"a#b {QUOTED}", id="hash-inside-word-is-no-comment"),
    pytest.param("cat <<< {x}", f"cat <<< {QUOTED}", id="here-string"),
    pytest.param("(cd d; run {x})", f"(cd d; run {QUOTED})", id="subshell"),
]


@pytest.mark.parametrize("template, expected", ACCEPTED)
def test_plain_word_placeholders_render_shell_quoted(template, expected):
    assert parse_command(template, "main").render({"x": VALUE}) == expected


# (template, words the refusal must contain besides the entry point and '{x}')
REFUSED = [
    pytest.param("echo '{x}'", ["single quotes", "Remove the quotes"], id="single-quotes"),
    pytest.param('echo "{x}"', ["double quotes", "Remove the quotes"], id="double-quotes"),
    pytest.param('echo "a {x} b"', ["double quotes"], id="inside-longer-double-quotes"),
    pytest.param("echo $'{x}'", ["$'...'"], id="ansi-quotes"),
    pytest.param('echo $"{x}"', ["double quotes"], id="locale-quotes"),
    pytest.param("echo `echo {x}`", ["backquotes"], id="backquotes"),
    pytest.param('echo "$(echo "{x}")"', ["double quotes"], id="quotes-in-substitution"),
    pytest.param("echo $(echo `{x}`)", ["backquotes"], id="backquotes-in-substitution"),
    pytest.param("echo $(( {x} + 1 ))", ["arithmetic"], id="arithmetic-expansion"),
    pytest.param("(( {x} > 1 )) && echo", ["arithmetic"], id="arithmetic-command"),
    pytest.param("echo $[ {x} + 1 ]", ["arithmetic"], id="old-arithmetic-expansion"),
    pytest.param("echo ${{HOME:-{x}}}", ["parameter expansion"], id="parameter-expansion"),
    pytest.param("echo hi # {x}", ["comment"], id="comment"),
    pytest.param("echo \\{x}", ["backslash"], id="after-backslash"),
    pytest.param("echo ${x}", ["right after a $"], id="after-dollar"),
    pytest.param("cat <<EOF\n{x}\nEOF\n", ["here-document"], id="here-document-body"),
    pytest.param("cat <<EOF\nhi\nEOF\necho {x}", ["here-document"], id="after-here-document"),
    pytest.param(
        'echo $(case a in a) echo "x";; esac) {x}', ["case"], id="after-case-in-substitution"
    ),
    pytest.param("echo ${{A:-'b'}} {x}", ["${...}"], id="after-quotes-in-parameter"),
    pytest.param("echo '{x}", ["single quotes"], id="unterminated-single-quote"),
    pytest.param("a=((b {x}))", ["array assignment"], id="inside-array-assignment"),
    pytest.param("a=(b) && echo {x}", ["array assignment"], id="after-array-assignment"),
]


@pytest.mark.parametrize("template, words", REFUSED)
def test_placeholder_outside_plain_word_is_refused_with_fix(template, words):
    with pytest.raises(InvalidProject) as info:
        parse_command(template, "train")
    message = info.value.message
    for word in ["entry_points.train.command", "'train'", "'{x}'", "shell code", *words]:
        assert word in message


@pytest.mark.parametrize(
    "template, written",
    [("run {x!r}", "{x!r}"), ("run {x!s}", "{x!s}"), ("run {x:>10}", "{x:>10}")],
)
def test_conversions_and_format_specs_are_refused(template, written):
    with pytest.raises(InvalidProject) as info:
        parse_command(template, "main")
    assert written in info.value.message and "not supported" in info.value.message


@pytest.mark.parametrize(
    "template",
    ["echo hi # note", "echo 'open", 'echo "$(open', "cat <<EOF\nbody\nEOF", "echo a \\"],
)
def test_undeclared_parameters_are_not_appended_into_an_open_context(template):
    parsed = parse_command(template, "main")
    assert append_flags(parsed, "main", {}) == ""
    with pytest.raises(InvalidParameters) as info:
        append_flags(parsed, "main", {"k": "\ntouch /tmp/x\n"})
    assert "'main'" in info.value.message and "'k'" in info.value.message


def test_undeclared_parameters_append_after_a_closed_command():
    parsed = parse_command("echo 'done' # note\n", "main")
    assert append_flags(parsed, "main", {"k": "v w"}) == " --k 'v w'"


def test_literal_command_keeps_braces():
    assert literal_command("python 'a{b}.py'").render({}) == "python 'a{b}.py'"


@pytest.mark.parametrize(
    "value", ["plain", "a b", "it's", "\n", "a\nb", "\nx\n\n", "$(x)\n`y`\n'z'", ""]
)
def test_shell_word_has_no_raw_newline_and_round_trips_through_bash(value):
    word = shell_word(value)
    assert "\n" not in word
    printed = subprocess.run(
        ["bash", "-c", f"printf %s {word}"], capture_output=True, text=True, check=True
    ).stdout
    assert printed == value
