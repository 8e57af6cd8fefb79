"""The training flow: acquire → validate → prepare → train → evaluate → log →
register → promote, in one tracking run whose status follows the flow.

The flow is `async` for speed only: Prefect's sync flows wait at least ~1 s
for their heartbeat thread (see the Prefect notes); the tasks themselves are
ordinary sync functions and run one after another.
"""

from __future__ import annotations

from prefect import flow, runtime

from mlcadence.flows import lifecycle
from mlcadence.flows.parameters import TrainingParameters, takes
from mlcadence.flows.steps import acquire_and_validate, data_tasks, register_gate_and_publish
from mlcadence.pipeline import estimators, features
from mlcadence.pipeline.recipe import Recipe
from mlcadence.pipeline.results import TrainingResult
from mlcadence.tasks import modeling, record


@flow(
    name="training",
    on_cancellation=[lifecycle.on_cancellation],
    on_crashed=[lifecycle.on_crashed],
)
@takes(TrainingParameters)
async def training(parameters: TrainingParameters) -> TrainingResult:
    """Train a stock-direction classifier, log it, register it as `challenger`
    and promote it to `champion` when it beats the current one on `metric`."""
    p = parameters
    # Fail on a bad model name or hyperparameter before fetching any data.
    resolved = estimators.resolve_hyperparameters(p.model, p.hyperparameters)
    acquire, prepare = data_tasks(p.refresh_data)
    with lifecycle.tracked_run(p.experiment, run_name=runtime.flow_run.name or None) as run:
        dataset, described = acquire_and_validate(acquire, p, p.window)
        prepared = prepare(dataset, dataset.digest, p.window, p.split, p.test_size)
        fitted = modeling.train(prepared, p.model, dict(p.hyperparameters))
        scored = modeling.evaluate(fitted, prepared)
        challenger = Recipe(
            fitted, p.window, features.label_rule_for(dataset.frame), p.split, p.test_size
        )
        params = {"model": p.model, **challenger.params(), **prepared.sizes, **resolved}
        model_uri = record.log_run(fitted, prepared, scored, params)
        result = TrainingResult(
            run_id=run.run_id,
            experiment_id=run.info.experiment_id,
            model_uri=model_uri,
            metrics=scored.metrics,
            dataset=described,
            params=params,
        )
        register_gate_and_publish(result, p, challenger, dataset)
    return result
