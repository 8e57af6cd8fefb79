"""One exception family for the serving layer.

Each error carries an MLflow error code and the HTTP status the scoring
protocol uses for it, so the HTTP layer turns any of them into MLflow's error
JSON (`{"error_code": ..., "message": ...}`) without an if-chain.
"""

from __future__ import annotations


class ServingError(Exception):
    """Base of every error raised by `serving`. The message says what to do."""

    error_code = "INTERNAL_ERROR"
    http_status = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def to_json(self) -> dict:
        return {"error_code": self.error_code, "message": self.message}


class BadRequest(ServingError):
    """Malformed body or an unknown request shape."""

    error_code = "BAD_REQUEST"
    http_status = 400


class SchemaMismatch(ServingError):
    """The input does not fit the model signature (column, type or shape)."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class ModelFailed(ServingError):
    """The model raised while predicting. MLflow answers this with 400 too:
    the request is what the model could not handle."""

    error_code = "BAD_REQUEST"
    http_status = 400


class Unauthenticated(ServingError):
    error_code = "UNAUTHENTICATED"
    http_status = 401


class PayloadTooLarge(ServingError):
    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 413


class UnsupportedMediaType(ServingError):
    error_code = "BAD_REQUEST"
    http_status = 415


class NoModelLoaded(ServingError):
    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


class RequestTimeout(ServingError):
    error_code = "DEADLINE_EXCEEDED"
    http_status = 504


class ModelLoadError(ServingError):
    """A model could not be loaded or warmed up (startup or hot reload)."""

    error_code = "INVALID_STATE"
    http_status = 500


class DeployError(ServingError):
    """A deployment did not become healthy, or could not be found or stopped."""

    error_code = "INVALID_STATE"
    http_status = 500


class DeploymentNotFound(ServingError):
    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404
