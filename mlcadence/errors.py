"""The one exception family every layer raises from.

Each error carries an MLflow error code. HTTP layers turn any of them into
MLflow's error JSON and a status from `HTTP_STATUS`; the CLI prints the
message and exits with the family's code. Each layer subclasses its own family
base (`TrackingError`, `ServingError`, `ProjectError`, `PipelineError`) so a
caller can catch one layer's faults without string matching.
"""

from __future__ import annotations

# MLflow's error codes and the HTTP status each maps to (MLflow's
# ERROR_CODE_TO_HTTP_STATUS; protocol facts). Unknown codes are 500.
HTTP_STATUS: dict[str, int] = {
    "BAD_REQUEST": 400,
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "INTERNAL_ERROR": 500,
    "INVALID_STATE": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "CANCELLED": 499,
}


class MlcadenceError(Exception):
    """Base of every error mlcadence raises on purpose. The message says what
    to do about it, so callers print it as it is."""

    error_code = "INTERNAL_ERROR"
    # Set only where HTTP has a more precise status than the code's (413, 415);
    # otherwise the status comes from HTTP_STATUS.
    status_override: int | None = None
    # The CLI exits with this status; each family has its own.
    cli_exit_code = 1

    def __init__(
        self,
        message: str,
        error_code: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        self.headers = headers or {}

    @property
    def http_status(self) -> int:
        if self.status_override is not None:
            return self.status_override
        return HTTP_STATUS.get(self.error_code, 500)

    def to_json(self) -> dict:
        return {"error_code": self.error_code, "message": self.message}
