"""One exception family for the pipeline layer; each message says what to do."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error raised by `mlcadence.pipeline`."""

    error_code = "INVALID_PARAMETER_VALUE"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidSource(PipelineError):
    """The source URI cannot be understood (wrong scheme, missing file, bad columns)."""


class DataUnavailable(PipelineError):
    """A remote source could not be reached. Retrying may help; nothing fell back."""

    error_code = "TEMPORARILY_UNAVAILABLE"


class InvalidData(PipelineError):
    """The data is unusable for training: unsorted, duplicated, too short, NaN."""


class InvalidConfig(PipelineError):
    """An estimator, hyperparameter, split or metric name is unknown or out of range."""
