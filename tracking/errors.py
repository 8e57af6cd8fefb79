"""The tracking layer's errors, one branch of `mlcadence.errors`."""

from __future__ import annotations

from mlcadence.errors import MlcadenceError


class TrackingError(MlcadenceError):
    """Base of every error raised by `tracking`. The message says what to do."""

    cli_exit_code = 3


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


class NotImplementedByStore(TrackingError):
    """An optional store operation this backend does not offer."""

    error_code = "NOT_IMPLEMENTED"
