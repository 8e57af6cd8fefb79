"""The training flows' parameters, declared once.

Each model below is the one declaration of a flow's parameters: the flow's
signature is built from it (`takes`), so Prefect's parameter schema gives the
UI's run form a description per field and the server rejects bad values (an
unknown model, window 0, a source without a scheme) before a run starts; the
CLI reads its options' defaults and help from the same fields; prefect.yaml
only overrides. Nothing here imports Prefect, so the CLI can read it cheaply.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from mlcadence.flows import task_runners
from mlcadence.pipeline import estimators, evaluation, gate, sources
from mlcadence.pipeline.features import DEFAULT_TEST_SIZE, DEFAULT_WINDOW

ModelName = Literal[tuple(estimators.ESTIMATORS)]  # type: ignore[valid-type]
GateMetric = Literal[tuple(evaluation.METRIC_NAMES)]  # type: ignore[valid-type]
UnscorablePolicy = Literal[gate.UNSCORABLE_POLICIES]  # type: ignore[valid-type]
HyperparameterValue = int | float | str | bool | None
Window = Annotated[int, Field(ge=1, le=365)]
RegisteredName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")]
DEFAULT_MODEL_NAME = "stockpred"


class Parameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommonParameters(Parameters):
    """Every training flow's data, split, registry and gate parameters."""

    source: str = Field(
        "synthetic:42",
        pattern=sources.SOURCE_PATTERN,
        description="fred:SERIES (network), csv:PATH_OR_URL, or synthetic:SEED (offline)",
    )
    start: date | None = Field(None, description="First day of data (inclusive), YYYY-MM-DD")
    end: date | None = Field(None, description="Last day of data (inclusive), YYYY-MM-DD")
    split: Literal["time", "random"] = Field(
        "time",
        description="time: the last days are the test set (no look-ahead); random: the book's split",
    )
    test_size: float = Field(
        DEFAULT_TEST_SIZE, gt=0, lt=1, description="Share of samples in the test set"
    )
    register_as: RegisteredName | None = Field(
        DEFAULT_MODEL_NAME,
        description="Registered model the new version joins (unset: log the run only, register nothing)",
    )
    metric: GateMetric = Field("accuracy", description="Metric the promotion gate compares")
    min_improvement: float = Field(
        0.0, ge=0, le=1, description="The challenger must beat the champion by this much"
    )
    gate_confidence: float = Field(
        0.95,
        ge=0.5,
        lt=1,
        description="Confidence that the challenger's improvement is not noise (paired "
        "bootstrap over the days both models are scored on) required to promote it",
    )
    gate_folds: int = Field(
        5,
        ge=1,
        le=20,
        description="Walk-forward folds the gate scores both models on (time split)",
    )
    gate_unscorable: UnscorablePolicy = Field(
        "keep",
        description="When the champion cannot be re-scored on the challenger's data (its "
        "recipe or model unknown): keep it, replace it, or fail the run",
    )
    gate_allow_mismatch: bool = Field(
        False,
        description="Compare with a champion trained with another split method or label "
        "rule instead of refusing to",
    )
    experiment: str = Field(
        "stockpred", min_length=1, max_length=500, description="Tracking experiment of the run"
    )
    refresh_data: bool = Field(False, description="Ignore cached data and fetch it again")

    def gate_policy(self) -> gate.GatePolicy:
        return gate.GatePolicy(
            metric=self.metric,
            min_improvement=self.min_improvement,
            confidence=self.gate_confidence,
            folds=self.gate_folds,
            unscorable=self.gate_unscorable,
            allow_mismatch=self.gate_allow_mismatch,
        )

    def start_day(self) -> str | None:
        return self.start.isoformat() if self.start else None

    def end_day(self) -> str | None:
        return self.end.isoformat() if self.end else None


class EstimatorParameters(Parameters):
    """One candidate: the feature window and the estimator to train."""

    window: Window = Field(DEFAULT_WINDOW, description="Past days used as features")
    model: ModelName = Field(
        estimators.DEFAULT_ESTIMATOR,
        description=f"Estimator to train: {' | '.join(estimators.ESTIMATORS)}",
    )
    hyperparameters: dict[str, HyperparameterValue] = Field(
        {}, description='Overrides of the estimator\'s defaults, e.g. {"n_estimators": 100}'
    )


class PromoteChoice(Parameters):
    promote: bool = Field(
        True, description="Run the promotion gate; false registers the challenger only"
    )


class TrainingParameters(PromoteChoice, EstimatorParameters, CommonParameters):
    """The `training` flow: one model, logged, registered and gated."""


class RetrainingParameters(EstimatorParameters, CommonParameters):
    """The `retraining` flow: training on fresh data, always gated, then deployment."""

    # Retraining exists to replace the champion, so it always registers, and
    # fetches fresh data unless told otherwise.
    register_as: RegisteredName = Field(
        DEFAULT_MODEL_NAME,
        description="Registered model whose champion is retrained",
    )
    refresh_data: bool = Field(True, description="Fetch fresh data instead of a cached copy")
    deploy: Literal["event", "inline", "off"] = Field(
        "event",
        description="How a new champion is deployed: event (the deploy deployment's trigger), "
        "inline (a deploy subflow), off",
    )

    def training(self) -> TrainingParameters:
        return TrainingParameters(
            **self.model_dump(include=set(TrainingParameters.model_fields)), promote=True
        )


class SweepParameters(PromoteChoice, CommonParameters):
    """The `sweep` flow: every window × model candidate; the best is registered and gated."""

    windows: list[Window] = Field(
        [7, 14, 28],
        min_length=1,
        description="Feature windows to try (past days, each 1-365)",
    )
    models: list[ModelName] = Field(
        list(estimators.ESTIMATORS), min_length=1, description="Estimators to try"
    )
    task_runner: str = Field(
        task_runners.DEFAULT_TASK_RUNNER,
        pattern=task_runners.TASK_RUNNER_PATTERN,
        description=f"Where the candidates train: {task_runners.TASK_RUNNER_HELP}",
    )


P = TypeVar("P", bound=Parameters)
R = TypeVar("R")


def signature_of(model: type[Parameters]) -> inspect.Signature:
    """One keyword parameter per field. Prefect reads the default and the
    description from a `Field` default, and the constraints (ge, pattern, ...)
    from the annotation only, so they go there."""
    return inspect.Signature(
        [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[(field.annotation, *field.metadata)]
                if field.metadata
                else field.annotation,
                default=field,
            )
            for name, field in model.model_fields.items()
        ]
    )


def takes(
    model: type[P],
) -> Callable[[Callable[[P], Awaitable[R]]], Callable[..., Awaitable[R]]]:
    """Turn `async def body(parameters: model)` into a function of the model's
    fields as keywords, the shape Prefect's `@flow` needs."""

    def decorate(body: Callable[[P], Awaitable[R]]) -> Callable[..., Awaitable[R]]:
        @functools.wraps(body)
        async def with_fields(**values: Any) -> R:
            # Prefect's validation hands back an unset parameter as its
            # signature default, the Field itself: let the model fill it in.
            given = {k: v for k, v in values.items() if not isinstance(v, FieldInfo)}
            return await body(model(**given))

        signature = signature_of(model)
        with_fields.__signature__ = signature.replace(  # type: ignore[attr-defined]
            return_annotation=inspect.signature(body).return_annotation
        )
        with_fields.__annotations__ = {
            name: parameter.annotation for name, parameter in signature.parameters.items()
        }
        return with_fields

    return decorate
