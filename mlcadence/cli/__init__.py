"""The `mlcadence` command: parse, call the library, print.

Each area keeps its commands in its own module; this file only mounts them.
"""

from __future__ import annotations

import importlib
import sys

import typer

from mlcadence.errors import MlcadenceError

# Command modules in mount order, each with the top-level names it mounts.
# `main` mounts only the module of the command being run, so `mlcadence serve`
# starts without importing the pipeline's flow parameters (a third of a
# second); `tests/cli/test_cli_areas.py` checks the names against the modules.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tracking_cmds", ("runs", "experiments", "models", "store")),
    ("pipeline_cmds", ("train", "retrain", "sweep")),
    ("serving_cmds", ("serve", "predict", "deploy", "deployments")),
    ("project_cmds", ("project",)),
    ("server_cmds", ("server",)),
)


def _group() -> None:
    """The `mlcadence` command: parse, call the library, print."""


def build_app(command: str | None = None) -> typer.Typer:
    """The app with the area that mounts `command`, or every area when it is
    None or no area claims it (help, a typo: Typer then lists everything)."""
    modules = [m for m, names in AREAS if command in names] or [m for m, _ in AREAS]
    app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
    # A callback keeps the app a group: with one area mounted that has a single
    # command (`server`), Typer would otherwise run it as the whole program
    # and reject its own name as an extra argument.
    app.callback()(_group)
    for name in modules:
        importlib.import_module(f"mlcadence.cli.{name}").register(app)
    return app


def __getattr__(name: str):
    # `from mlcadence.cli import app` (tests, embedding) gets every command.
    if name == "app":
        globals()["app"] = build_app()
        return globals()["app"]
    raise AttributeError(name)


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else None
    try:
        build_app(command)()
    except MlcadenceError as exc:
        # One clear line and the family's exit status: the message already says
        # what to do, a traceback would only bury it.
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        sys.exit(exc.cli_exit_code)
