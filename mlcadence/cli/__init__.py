"""The `mlcadence` command: parse, call the library, print.

Each area keeps its commands in its own module; this file only mounts them.
"""

from __future__ import annotations

import sys

import typer

from mlcadence.cli import pipeline_cmds, project_cmds, server_cmds, serving_cmds, tracking_cmds
from mlcadence.errors import MlcadenceError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

for module in (tracking_cmds, pipeline_cmds, serving_cmds, project_cmds, server_cmds):
    module.register(app)


def main() -> None:
    try:
        app()
    except MlcadenceError as exc:
        # One clear line and the family's exit status: the message already says
        # what to do, a traceback would only bury it.
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        sys.exit(exc.cli_exit_code)
