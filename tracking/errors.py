"""One exception family for the tracking layer.

Every error carries an MLflow error code so that HTTP layers can map it to
MLflow's JSON error shape and status without guessing.
"""

from __future__ import annotations

# MLflow's error codes and the HTTP status each maps to (protocol facts).
HTTP_STATUS = {
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
}


class TrackingError(Exception):
    """Base of every error raised by `tracking`. The message says what to do."""

    error_code = "INTERNAL_ERROR"

    def __init__(self, message: str, error_code: str | None = None):
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.error_code, 500)

    def to_json(self) -> dict:
        return {"error_code": self.error_code, "message": self.message}


class InvalidInput(TrackingError):
    error_code = "INVALID_PARAMETER_VALUE"


class NotFound(TrackingError):
    error_code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExists(TrackingError):
    error_code = "RESOURCE_ALREADY_EXISTS"


class InvalidState(TrackingError):
    error_code = "INVALID_STATE"


class CorruptStore(TrackingError):
    """A file or row in the store cannot be read back; nothing was changed."""

    error_code = "DATA_LOSS"


class ModelIntegrityError(TrackingError):
    """A model file does not match the digest recorded when it was saved."""

    error_code = "INVALID_STATE"


class UnsupportedBackend(TrackingError):
    error_code = "INVALID_PARAMETER_VALUE"
