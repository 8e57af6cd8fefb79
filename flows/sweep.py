"""The sweep flow: the training pipeline over a grid of windows × estimators.

Data is acquired and validated once; each window is prepared once (cached);
the candidates are fanned out on the task runner the `task_runner`
parameter names (threads, a local Dask cluster, an existing Dask scheduler,
or a local Ray instance: see `task_runners`). Each candidate logs to a child run of one
parent run, through the store named in its `TrackingTarget` (a worker may
be on another machine); the best on `metric` is logged as a model (here,
from the fitted estimator the candidate sent back), registered and gated.
"""

from __future__ import annotations

from prefect import flow, runtime, unmapped
from prefect.task_runners import ThreadPoolTaskRunner

from mlcadence import tracking
from mlcadence.flows import lifecycle, task_runners
from mlcadence.flows.parameters import SweepParameters, takes
from mlcadence.flows.steps import acquire_and_validate, data_tasks, register_gate_and_publish
from mlcadence.pipeline import estimators, features
from mlcadence.pipeline.candidate_runs import TrackingTarget
from mlcadence.pipeline.recipe import Recipe
from mlcadence.pipeline.results import TrainingResult
from mlcadence.settings import Settings, get_settings
from mlcadence.tasks import artifacts
from mlcadence.tasks.sweep import fit_candidate, log_candidate_model
from mlcadence.tracking.tracking_uri import where_the_uri_came_from


@flow(
    name="sweep",
    task_runner=ThreadPoolTaskRunner(max_workers=4),
    on_cancellation=[lifecycle.on_cancellation],
    on_crashed=[lifecycle.on_crashed],
)
@takes(SweepParameters)
async def sweep(parameters: SweepParameters) -> TrainingResult:
    """Train every window × model candidate, keep the best, register and gate it."""
    p = parameters
    # A deployment's run gets here without the CLI's check.
    task_runners.require_reachable_store(
        p.task_runner, tracking.get_tracking_uri(), where_the_uri_came_from()
    )
    windows = sorted(set(p.windows))
    models = list(dict.fromkeys(p.models))
    acquire, prepare = data_tasks(p.refresh_data)
    run_name = runtime.flow_run.name or None
    with lifecycle.tracked_run(
        p.experiment, run_name=run_name, tags={"mlcadence.sweep": "true"}
    ) as parent:
        dataset, described = acquire_and_validate(acquire, p, max(windows))
        label_rule = features.label_rule_for(dataset.frame)
        tracking.log_params(
            {
                "windows": ",".join(map(str, windows)),
                "models": ",".join(models),
                "label_rule": label_rule,
                "split": p.split,
                "test_size": str(p.test_size),
                "metric": p.metric,
            }
        )
        prepared = prepare.map(
            unmapped(dataset),
            unmapped(dataset.digest),
            windows,
            unmapped(p.split),
            unmapped(p.test_size),
        )
        splits = dict(zip(windows, prepared.result(), strict=True))
        # Import each estimator's module here, once: scikit-learn imported for
        # the first time from several threads at once can fail half-initialised
        # ("cannot import name 'clone' from partially initialized module").
        for name in models:
            estimators.spec_for(name).load_class()
        grid = [(w, m) for w in windows for m in models]
        target = TrackingTarget(
            tracking.get_tracking_uri(),
            parent.info.experiment_id,
            parent.run_id,
            token=_token(get_settings()),
        )
        with task_runners.build(p.task_runner) as runner:
            futures = runner.map(
                fit_candidate,
                {
                    "split": [splits[w] for w, _ in grid],
                    "window": [w for w, _ in grid],
                    "model": [m for _, m in grid],
                    "hyperparameters": unmapped({}),
                    "shared_params": unmapped(
                        {"label_rule": label_rule, "split": p.split, "test_size": p.test_size}
                    ),
                    "target": unmapped(target),
                },
            )
            candidates = futures.result()
        ranked = sorted(candidates, key=lambda c: c.metrics[p.metric], reverse=True)
        best = ranked[0]
        leaderboard = [c.row(p.metric) for c in ranked]
        artifacts.publish_table(
            leaderboard,
            artifacts.artifact_key(p.register_as or p.experiment, "sweep"),
            f"Sweep candidates ranked by {p.metric}",
        )
        tracking.log_metrics({f"best_{k}": v for k, v in best.metrics.items()})
        tracking.set_tags({"mlcadence.sweep.best_run_id": best.run_id})
        result = TrainingResult(
            run_id=best.run_id,
            experiment_id=parent.info.experiment_id,
            model_uri=log_candidate_model(best),
            metrics=best.metrics,
            dataset=described,
            params=best.params,
            extra={"parent_run_id": parent.run_id, "candidates": leaderboard},
        )
        challenger = Recipe(best.fitted, best.window, label_rule, p.split, p.test_size)
        register_gate_and_publish(result, p, challenger, dataset)
    return result


def _token(settings: Settings) -> str | None:
    token = settings.tracking_token
    return token.get_secret_value() if token is not None else None
