"""The container helpers' errors, one branch of `mlcadence.errors`."""

from __future__ import annotations

from mlcadence.errors import MlcadenceError


class ContainerError(MlcadenceError):
    """Base of every error raised by `mlcadence.containers`: an image or a
    wheelhouse could not be built."""

    error_code = "INVALID_STATE"
    cli_exit_code = 7


class EngineUnavailable(ContainerError):
    """No Docker engine (or no Docker SDK) on this machine."""

    error_code = "TEMPORARILY_UNAVAILABLE"
