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
from mlcadence.flows.parameters import SweepParameters, takes
from mlcadence.flows.steps import acquire_and_validate, data_tasks, register_gate_and_publish
from mlcadence.pipeline import estimators, features
from mlcadence.pipeline.recipe import Recipe
from mlcadence.pipeline.results import TrainingResult
from mlcadence.tasks import artifacts
from mlcadence.tasks.sweep import fit_candidate, log_candidate_model


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
        futures = fit_candidate.map(
            [splits[w] for w, _ in grid],
            [w for w, _ in grid],
            [m for _, m in grid],
            unmapped({}),
            unmapped({"label_rule": label_rule, "split": p.split, "test_size": p.test_size}),
        )
        ranked = sorted(futures.result(), key=lambda c: c.metrics[p.metric], reverse=True)
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
