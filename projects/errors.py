"""One exception family for the projects layer.

Messages say what is wrong and what to do about it, so the CLI can print
them as they are.
"""

from __future__ import annotations


class ProjectError(Exception):
    """Base of every error raised by `projects`."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidProject(ProjectError):
    """The MLproject file (or a file it names) is malformed."""


class InvalidParameters(ProjectError):
    """The parameters given for an entry point do not fit its declaration."""


class EnvironmentUnavailable(ProjectError):
    """The requested environment manager cannot run here (no conda, no Docker...)."""


class ExecutionFailed(ProjectError):
    """The entry point ran and exited non-zero."""

    def __init__(self, message: str, run_id: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.run_id = run_id
        self.exit_code = exit_code
