"""The sweep flow: the training pipeline over a grid of windows × estimators.

Data is acquired and validated once; each window is prepared once (cached);
the candidates are fanned out with `.map` on the flow's task runner (threads
by default; pass a prefect-dask `DaskTaskRunner` via `sweep.with_options` to
spread over machines). Each candidate logs to a child run of one parent run;
the best on `metric` is logged as a model, registered and gated.
"""

from __future__ import annotations

from prefect import flow, runtime, unmapped
from prefect.task_runners import ThreadPoolTaskRunner

from mlcadence import tracking
from mlcadence.flows import lifecycle
from mlcadence.flows.parameters import (
    DEFAULT_EXPERIMENT,
    DEFAULT_MODEL_NAME,
    DEFAULT_SOURCE,
    DEFAULT_TEST_SIZE,
    EndDate,
    ExperimentName,
    GateMetric,
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
from mlcadence.flows.training import TrainingResult, register_and_gate
from mlcadence.tasks import artifacts, data
from mlcadence.tasks.sweep import fit_candidate, log_candidate_model

DEFAULT_WINDOWS = [7, 14, 28]
DEFAULT_MODELS = ["random_forest", "logistic_regression", "gradient_boosting"]


@flow(
    name="sweep",
    task_runner=ThreadPoolTaskRunner(max_workers=4),
    on_cancellation=[lifecycle.on_cancellation],
    on_crashed=[lifecycle.on_crashed],
)
async def sweep(
    source: SourceURI = DEFAULT_SOURCE,
    start: StartDate = None,
    end: EndDate = None,
    windows: list[Window] = DEFAULT_WINDOWS,  # noqa: B006
    models: list[ModelName] = DEFAULT_MODELS,  # noqa: B006
    split: SplitMethod = "time",
    test_size: TestSize = DEFAULT_TEST_SIZE,
    register_as: RegisteredName | None = DEFAULT_MODEL_NAME,
    metric: GateMetric = "accuracy",
    min_improvement: MinImprovement = 0.0,
    promote: bool = True,
    experiment: ExperimentName = DEFAULT_EXPERIMENT,
    refresh_data: bool = False,
) -> TrainingResult:
    """Train every window × model candidate, keep the best, register and gate it."""
    windows = sorted(set(windows))
    models = list(dict.fromkeys(models))
    acquire, prepare = data.with_cache_storage(data.acquire, data.prepare)
    if refresh_data:
        acquire = acquire.with_options(refresh_cache=True)
    run_name = runtime.flow_run.name or None
    with lifecycle.tracked_run(
        experiment, run_name=run_name, tags={"mlcadence.sweep": "true"}
    ) as parent:
        dataset = acquire(source, iso(start), iso(end))
        described = data.record_dataset(dataset)
        data.validate(dataset, max(windows), test_size)
        tracking.log_params(
            {
                "windows": ",".join(map(str, windows)),
                "models": ",".join(models),
                "split": split,
                "test_size": str(test_size),
                "metric": metric,
            }
        )
        prepared = prepare.map(
            unmapped(dataset),
            unmapped(dataset.digest),
            windows,
            unmapped(split),
            unmapped(test_size),
        )
        splits = dict(zip(windows, prepared.result(), strict=True))
        grid = [(w, m) for w in windows for m in models]
        futures = fit_candidate.map(
            [splits[w] for w, _ in grid],
            [w for w, _ in grid],
            [m for _, m in grid],
            unmapped({}),
            unmapped({"split": split, "test_size": test_size}),
        )
        candidates = futures.result()
        ranked = sorted(candidates, key=lambda c: c.metrics[metric], reverse=True)
        best = ranked[0]
        artifacts.publish_table(
            [c.row(metric) for c in ranked],
            artifacts.artifact_key(register_as or experiment, "sweep"),
            f"Sweep candidates ranked by {metric}",
        )
        tracking.log_metrics({f"best_{k}": v for k, v in best.metrics.items()})
        tracking.set_tags({"mlcadence.sweep.best_run_id": best.run_id})
        model_uri = log_candidate_model(best)
        result = TrainingResult(
            run_id=best.run_id,
            experiment_id=parent.info.experiment_id,
            model_uri=model_uri,
            metrics=best.metrics,
            dataset=described,
            params=best.params,
            extra={"parent_run_id": parent.run_id, "candidates": [c.row(metric) for c in ranked]},
        )
        decision = register_and_gate(result, register_as, promote, metric, min_improvement)
        if register_as:
            artifacts.publish_leaderboard(register_as, metric)
        artifacts.publish(
            register_as or experiment,
            result.version,
            best.run_id,
            described,
            best.params,
            best.metrics,
            decision,
            model_uri,
        )
    return result
