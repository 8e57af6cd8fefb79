"""The projects layer's errors, one branch of `mlcadence.errors`."""

from __future__ import annotations

from mlcadence.errors import MlcadenceError


class ProjectError(MlcadenceError):
    """Base of every error raised by `projects`."""

    error_code = "INVALID_PARAMETER_VALUE"
    cli_exit_code = 5


class InvalidProject(ProjectError):
    """The MLproject file (or a file it names) is malformed."""


class InvalidParameters(ProjectError):
    """The parameters given for an entry point do not fit its declaration."""


class EnvironmentUnavailable(ProjectError):
    """The requested environment manager cannot run here (no conda, no Docker...)."""

    error_code = "TEMPORARILY_UNAVAILABLE"


class ExecutionFailed(ProjectError):
    """The entry point ran and exited non-zero."""

    error_code = "INTERNAL_ERROR"

    def __init__(self, message: str, run_id: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.run_id = run_id
        self.exit_code = exit_code
        # The CLI passes the entry point's own exit status on, as a shell would.
        self.cli_exit_code = exit_code or 1
