"""The CLI mounts only the area of the command being run; the table that
says which area owns which command must match what each area mounts."""

from __future__ import annotations

import importlib
import subprocess
import sys

import typer

from mlcadence.cli import AREAS


def mounted_names(module_name: str) -> set[str]:
    app = typer.Typer()
    importlib.import_module(f"mlcadence.cli.{module_name}").register(app)
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    groups = {g.name for g in app.registered_groups}
    return commands | groups


def test_each_area_declares_exactly_the_commands_it_mounts():
    for module_name, names in AREAS:
        assert mounted_names(module_name) == set(names), module_name


def test_no_command_name_is_claimed_by_two_areas():
    names = [n for _, area in AREAS for n in area]
    assert len(names) == len(set(names))


def test_serve_help_does_not_import_the_pipeline_or_prefect():
    code = (
        "import sys\n"
        "sys.argv = ['mlcadence', 'serve', '--help']\n"
        "from mlcadence.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('mlcadence.flows.parameters', 'mlcadence.pipeline', 'prefect')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--model-uri" in out.stdout
    assert "HEAVY []" in out.stdout


def test_top_level_help_lists_every_area():
    out = subprocess.run(
        [sys.executable, "-c", "from mlcadence.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for _, names in AREAS:
        for name in names:
            assert name in out.stdout


def test_an_unknown_command_is_refused():
    out = subprocess.run(
        [sys.executable, "-c", "from mlcadence.cli import main; main()", "nosuch"],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "No such command" in out.stderr


def test_an_area_with_a_single_command_still_takes_the_command_name():
    out = subprocess.run(
        [sys.executable, "-c", "from mlcadence.cli import main; main()", "server", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--backend-store-uri" in out.stdout
