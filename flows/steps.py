"""The steps the training and sweep flows share: the cached data steps, and
the register → gate → publish tail of a run."""

from __future__ import annotations

from mlcadence.flows.parameters import CommonParameters, SweepParameters, TrainingParameters
from mlcadence.pipeline import sources
from mlcadence.pipeline.recipe import Recipe
from mlcadence.pipeline.results import TrainingResult
from mlcadence.tasks import artifacts, data, registry


def data_tasks(refresh_data: bool):
    """`acquire` and `prepare`, their results cached under the `cache_dir`
    setting; `refresh_data` makes acquire fetch again (and re-cache)."""
    acquire, prepare = data.with_cache_storage(data.acquire, data.prepare)
    if refresh_data:
        acquire = acquire.with_options(refresh_cache=True)
    return acquire, prepare


def acquire_and_validate(
    acquire, parameters: CommonParameters, window: int
) -> tuple[sources.Dataset, dict[str, str]]:
    """The dataset, recorded on the active run and validated for `window`."""
    dataset = acquire(parameters.source, parameters.start_day(), parameters.end_day())
    described = data.record_dataset(dataset)
    data.validate(dataset, window, parameters.test_size)
    return dataset, described


def register_gate_and_publish(
    result: TrainingResult,
    parameters: TrainingParameters | SweepParameters,
    challenger: Recipe,
    dataset: sources.Dataset,
) -> None:
    """Register `result`'s model as a new version (alias challenger), gate it
    when `promote` (its `challenger` recipe and the champion's, both scored on
    `dataset`; recorded on `result`), then publish the model card and the
    registered model's leaderboard."""
    name = parameters.register_as
    if name:
        result.registered_name = name
        result.version = registry.register(result.model_uri, name, result.run_id)
        if parameters.promote:
            decision = registry.promote(
                name,
                result.version,
                challenger,
                dataset,
                result.metrics[parameters.metric],
                parameters.gate_policy(),
            )
            result.decision = decision.as_dict()
            result.champion_changed = decision.promote
    artifacts.publish(name or parameters.experiment, result)
    if name:
        artifacts.publish_leaderboard(name, parameters.metric)
