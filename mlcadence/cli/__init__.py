"""The `mlcadence` command: parse, call the library, print.

Each area keeps its commands in its own module; this file only mounts them.
"""

from __future__ import annotations

import os
import sys

import typer

from mlcadence.cli import (
    pipeline_cmds,
    platform_cmds,
    project_cmds,
    server_cmds,
    serving_cmds,
    tracking_cmds,
)
from mlcadence.errors import MlcadenceError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

for module in (
    tracking_cmds,
    pipeline_cmds,
    serving_cmds,
    project_cmds,
    server_cmds,
    platform_cmds,
):
    module.register(app)


@app.callback()
def use_running_platform() -> None:
    # The one place where a command picks up `mlcadence up`'s services: the
    # Prefect API URL and the tracking URI, unless the environment names its own.
    from mlcadence.cli import platform

    for name, value in platform.client_environment(platform_cmds.state_dir()).items():
        os.environ.setdefault(name, value)


def run_command() -> int:
    """Run the command in sys.argv here; its exit status."""
    try:
        app()
    except MlcadenceError as exc:
        # One clear line and the family's exit status: the message already says
        # what to do, a traceback would only bury it.
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        return exc.cli_exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return 0


def main() -> None:
    from mlcadence.cli import platform, warm_runner

    # With `mlcadence up` running, flow commands run in its warm runner.
    code = warm_runner.forward(platform.runner_socket(platform_cmds.state_dir()), sys.argv)
    sys.exit(run_command() if code is None else code)
