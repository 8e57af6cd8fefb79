"""The pipeline layer's errors, one branch of `mlcadence.errors`."""

from __future__ import annotations

from mlcadence.errors import MlcadenceError


class PipelineError(MlcadenceError):
    """Base of every error raised by `mlcadence.pipeline`."""

    error_code = "INVALID_PARAMETER_VALUE"
    cli_exit_code = 6


class InvalidSource(PipelineError):
    """The source URI cannot be understood (wrong scheme, missing file, bad columns)."""


class DataUnavailable(PipelineError):
    """A remote source could not be reached. Retrying may help; nothing fell back."""

    error_code = "TEMPORARILY_UNAVAILABLE"


class InvalidData(PipelineError):
    """The data is unusable for training: unsorted, duplicated, too short, NaN."""


class InvalidConfig(PipelineError):
    """An estimator, hyperparameter, split or metric name is unknown or out of range."""


class ChampionUnscorable(PipelineError):
    """The gate could not re-score the champion, and its policy says to fail."""


class PromotionError(PipelineError):
    """An alias cannot move as asked (e.g. no earlier champion to roll back to)."""

    error_code = "INVALID_STATE"
