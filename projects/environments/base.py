"""What every environment manager gets and must do.

A manager turns (project, shell command, environment variables) into a
finished process and its exit code. It may record tags on the run (Docker
image id, ...) through `Execution.set_tag`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mlcadence.projects.spec import Project

OutputSink = Callable[[str], None]


def print_sink(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


@dataclass
class Execution:
    project: Project
    command: str  # the entry point's shell command, parameters substituted
    env: dict[str, str]  # extra variables for the entry point (run id, tracking URI, ...)
    tracking_uri: str
    run_id: str
    experiment_id: str
    artifact_uri: str
    cache_dir: Path  # where managers keep venvs, conda envs, build contexts
    build_image: bool = False
    git_commit: str | None = None
    output: OutputSink = print_sink
    set_tag: Callable[[str, str], None] = field(default=lambda key, value: None)


class EnvManager(Protocol):
    name: str

    def check(self, project: Project) -> None:
        """Raise ProjectError when this manager cannot run `project` here;
        called before any run is opened."""

    def execute(self, execution: Execution) -> int:
        """Run the command to completion, stream its output, return its exit code."""
