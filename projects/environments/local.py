"""Run the entry point with this interpreter: `python` in the command is the
Python that runs mlcadence, whatever else is on PATH."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlcadence.projects.environments.base import Execution
from mlcadence.projects.environments.process import run_streaming
from mlcadence.projects.spec import Project


def shell_env(execution: Execution, bin_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(execution.env)
    if bin_dir is not None:
        env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    return env


class LocalEnv:
    name = "local"

    def check(self, project: Project) -> None:
        pass  # this interpreter is always there

    def execute(self, execution: Execution) -> int:
        env = shell_env(execution, Path(sys.executable).parent)
        return run_streaming(
            ["bash", "-c", execution.command], execution.project.directory, env, execution.output
        )
