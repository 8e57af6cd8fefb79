"""The serving layer's errors, one branch of `mlcadence.errors`.

The HTTP layer turns any of them into MLflow's error JSON and the status
from the shared code table, or the override HTTP has a sharper word for:
client faults are 4xx; `ModelFailed` and `InternalError` are the server's
own faults (500).
"""

from __future__ import annotations

from mlcadence.errors import MlcadenceError


class ServingError(MlcadenceError):
    """Base of every error raised by `serving`. The message says what to do."""

    cli_exit_code = 4


class BadRequest(ServingError):
    """Malformed body or an unknown request shape."""

    error_code = "BAD_REQUEST"


class SchemaMismatch(ServingError):
    """The input does not fit the model signature (column, type or shape)."""

    error_code = "INVALID_PARAMETER_VALUE"


class ModelFailed(ServingError):
    """The model raised on input that passed signature enforcement: a fault of
    the served model, so a 500 (logged with its traceback), not the client's."""

    error_code = "INTERNAL_ERROR"


class InternalError(ServingError):
    """A bug of the server's own while handling a request (logged, 500)."""

    error_code = "INTERNAL_ERROR"


class Unauthenticated(ServingError):
    error_code = "UNAUTHENTICATED"


class PayloadTooLarge(ServingError):
    error_code = "REQUEST_LIMIT_EXCEEDED"
    status_override = 413


class UnsupportedMediaType(ServingError):
    error_code = "BAD_REQUEST"
    status_override = 415


class ClientClosed(ServingError):
    """The client went away before its request was read: nobody's fault here."""

    error_code = "CANCELLED"


class NoModelLoaded(ServingError):
    error_code = "TEMPORARILY_UNAVAILABLE"


class RequestTimeout(ServingError):
    error_code = "DEADLINE_EXCEEDED"


class ModelLoadError(ServingError):
    """A model could not be loaded or warmed up (startup or hot reload)."""

    error_code = "INVALID_STATE"


class ModelNotFound(ModelLoadError):
    """The registry has no such model, version or alias. At start this is an
    error, not a wait: the server would answer 503 until someone noticed."""

    error_code = "RESOURCE_DOES_NOT_EXIST"


class InvalidSetting(ServingError):
    """A serving setting (CLI option or MLCADENCE_SERVING_* variable) is invalid."""

    error_code = "INVALID_PARAMETER_VALUE"


class PortInUse(InvalidSetting):
    """The port the server should listen on is taken."""


class EndpointNotFound(ServingError):
    """A path the server does not serve."""

    error_code = "ENDPOINT_NOT_FOUND"


class DeployError(ServingError):
    """A deployment did not become healthy, or could not be found or stopped."""

    error_code = "INVALID_STATE"


class DeploymentNotFound(ServingError):
    error_code = "RESOURCE_DOES_NOT_EXIST"


class HeadersTooLarge(ServingError):
    """The request line and headers exceed the server's header size limit."""

    error_code = "REQUEST_LIMIT_EXCEEDED"
    status_override = 431


class HeaderTimeout(ServingError):
    """The request head did not arrive within the header read timeout."""

    error_code = "DEADLINE_EXCEEDED"
    status_override = 408


class TooManyConnections(ServingError):
    """The server is at its connection limit."""

    error_code = "TEMPORARILY_UNAVAILABLE"
