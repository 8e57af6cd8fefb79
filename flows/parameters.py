"""Typed flow parameters. Prefect turns these annotations into the deployment's
parameter schema, so the UI renders a form and the server rejects bad values
(an unknown model, window 0, a source without a scheme) before a run starts."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from mlcadence.pipeline import estimators, evaluation, sources
from mlcadence.pipeline.features import BOOK_RANDOM_STATE, DEFAULT_TEST_SIZE, DEFAULT_WINDOW

SourceURI = Annotated[
    str,
    Field(
        pattern=sources.SOURCE_PATTERN,
        description="fred:SERIES (network), csv:PATH_OR_URL, or synthetic:SEED (offline)",
    ),
]
StartDate = Annotated[date | None, Field(description="First day of data (inclusive)")]
EndDate = Annotated[date | None, Field(description="Last day of data (inclusive)")]
Window = Annotated[int, Field(ge=1, le=365, description="Past days used as features")]
SplitMethod = Annotated[
    Literal["time", "random"],
    Field(description="time: last days are the test set (no look-ahead); random: the book's split"),
]
TestSize = Annotated[float, Field(gt=0, lt=1, description="Share of samples in the test set")]
ModelName = Literal[tuple(estimators.ESTIMATORS)]  # type: ignore[valid-type]
Hyperparameters = Annotated[
    dict[str, int | float | str | bool | None],
    Field(description='Overrides of the estimator\'s defaults, e.g. {"n_estimators": 100}'),
]
RegisteredName = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$", description="Registered model name")
]
GateMetric = Literal[tuple(evaluation.METRIC_NAMES)]  # type: ignore[valid-type]
MinImprovement = Annotated[
    float, Field(ge=0, le=1, description="Challenger must beat champion by this")
]
ExperimentName = Annotated[str, Field(min_length=1, max_length=500)]

DEFAULT_SOURCE = "synthetic:42"
DEFAULT_MODEL_NAME = "stockpred"
DEFAULT_EXPERIMENT = "stockpred"
__all__ = ["BOOK_RANDOM_STATE", "DEFAULT_TEST_SIZE", "DEFAULT_WINDOW"]


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
