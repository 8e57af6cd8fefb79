"""The training flow: acquire → validate → prepare → train → evaluate → log →
register → promote, in one tracking run whose status follows the flow.

The flow is `async` for speed only: Prefect's sync flows wait at least ~1 s
for their heartbeat thread (see the Prefect notes); the tasks themselves are
ordinary sync functions and run one after another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from prefect import flow, runtime

from mlcadence.flows import lifecycle
from mlcadence.flows.parameters import (
    DEFAULT_EXPERIMENT,
    DEFAULT_MODEL_NAME,
    DEFAULT_SOURCE,
    DEFAULT_TEST_SIZE,
    DEFAULT_WINDOW,
    EndDate,
    ExperimentName,
    GateMetric,
    Hyperparameters,
    MinImprovement,
    ModelName,
    RegisteredName,
    SourceURI,
    SplitMethod,
    StartDate,
    TestSize,
    Window,
    iso,
)
from mlcadence.pipeline import estimators
from mlcadence.tasks import artifacts, data, modeling, record, registry


@dataclass
class TrainingResult:
    """What a training run produced; printed by the CLI, returned by the flow."""

    run_id: str
    experiment_id: str
    model_uri: str
    metrics: dict[str, float]
    dataset: dict[str, str]
    params: dict[str, Any]
    registered_name: str | None = None
    version: int | None = None
    decision: dict[str, Any] | None = None
    champion_changed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def register_and_gate(
    result: TrainingResult,
    register_as: str | None,
    promote: bool,
    metric: str,
    min_improvement: float,
):
    """Register `result`'s model as a new version (alias challenger) and, when
    asked, run the promotion gate on it; records both on `result`. Returns the
    gate's decision, or None when nothing was gated."""
    if not register_as:
        return None
    result.registered_name = register_as
    result.version = registry.register(result.model_uri, register_as, result.run_id)
    if not promote:
        return None
    decision = registry.promote(
        register_as, result.version, metric, result.metrics[metric], min_improvement
    )
    result.decision = decision.as_dict()
    result.champion_changed = decision.promote
    return decision


def run_pipeline(
    *,
    source: str,
    start: str | None,
    end: str | None,
    window: int,
    split: str,
    test_size: float,
    model: str,
    hyperparameters: dict[str, Any],
    register_as: str | None,
    metric: str,
    min_improvement: float,
    promote: bool,
    experiment: str,
    refresh_data: bool = False,
) -> TrainingResult:
    """The DAG itself, inside a flow run; shared by `training` and `retraining`."""
    acquire, prepare = data.with_cache_storage(data.acquire, data.prepare)
    if refresh_data:
        acquire = acquire.with_options(refresh_cache=True)
    # Fail on a bad model name or hyperparameter before fetching any data.
    resolved = estimators.resolve_hyperparameters(model, hyperparameters)
    with lifecycle.tracked_run(experiment, run_name=runtime.flow_run.name or None) as run:
        dataset = acquire(source, start, end)
        described = data.record_dataset(dataset)
        data.validate(dataset, window, test_size)
        prepared = prepare(dataset, dataset.digest, window, split, test_size)
        fitted = modeling.train(prepared, model, hyperparameters)
        scored = modeling.evaluate(fitted, prepared)
        params = {
            "model": model,
            "window": window,
            "split": split,
            "test_size": test_size,
            **prepared.sizes,
            **resolved,
        }
        model_uri = record.log_run(fitted, prepared, scored, params)
        result = TrainingResult(
            run_id=run.run_id,
            experiment_id=run.info.experiment_id,
            model_uri=model_uri,
            metrics=scored.metrics,
            dataset=described,
            params=params,
        )
        decision = register_and_gate(result, register_as, promote, metric, min_improvement)
        artifacts.publish(
            register_as or experiment,
            result.version,
            run.run_id,
            described,
            params,
            scored.metrics,
            decision,
            model_uri,
        )
        if register_as:
            artifacts.publish_leaderboard(register_as, metric)
    return result


@flow(
    name="training",
    on_cancellation=[lifecycle.on_cancellation],
    on_crashed=[lifecycle.on_crashed],
)
async def training(
    source: SourceURI = DEFAULT_SOURCE,
    start: StartDate = None,
    end: EndDate = None,
    window: Window = DEFAULT_WINDOW,
    split: SplitMethod = "time",
    test_size: TestSize = DEFAULT_TEST_SIZE,
    model: ModelName = estimators.DEFAULT_ESTIMATOR,
    hyperparameters: Hyperparameters = {},  # noqa: B006 (Prefect copies defaults)
    register_as: RegisteredName | None = DEFAULT_MODEL_NAME,
    metric: GateMetric = "accuracy",
    min_improvement: MinImprovement = 0.0,
    promote: bool = True,
    experiment: ExperimentName = DEFAULT_EXPERIMENT,
    refresh_data: bool = False,
) -> TrainingResult:
    """Train a stock-direction classifier, log it, register it as `challenger`
    and promote it to `champion` when it beats the current one on `metric`."""
    return run_pipeline(
        source=source,
        start=iso(start),
        end=iso(end),
        window=window,
        split=split,
        test_size=test_size,
        model=model,
        hyperparameters=dict(hyperparameters),
        register_as=register_as,
        metric=metric,
        min_improvement=min_improvement,
        promote=promote,
        experiment=experiment,
        refresh_data=refresh_data,
    )
