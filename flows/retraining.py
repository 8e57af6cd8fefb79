"""The retraining flow: training with the promotion gate, then deployment of a
new champion. Scheduled daily by the `retrain` deployment in prefect.yaml.

How the new champion gets deployed is a parameter:
- `event` (default): do nothing here. The promotion emitted
  `mlcadence.model.promoted`, and the `deploy` deployment's trigger starts a
  deploy run from it (so a promotion by any flow or CLI run deploys alike).
- `inline`: run the deploy flow as a subflow of this run (no automation needed).
- `off`: only train and gate.
"""

from __future__ import annotations

import inspect
from typing import Literal

from prefect import flow
from prefect.logging import get_run_logger

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
)
from mlcadence.flows.training import TrainingResult, training
from mlcadence.pipeline import estimators

DeployMode = Literal["event", "inline", "off"]


@flow(name="retraining")
async def retraining(
    source: SourceURI = DEFAULT_SOURCE,
    start: StartDate = None,
    end: EndDate = None,
    window: Window = DEFAULT_WINDOW,
    split: SplitMethod = "time",
    test_size: TestSize = DEFAULT_TEST_SIZE,
    model: ModelName = estimators.DEFAULT_ESTIMATOR,
    hyperparameters: Hyperparameters = {},  # noqa: B006
    register_as: RegisteredName = DEFAULT_MODEL_NAME,
    metric: GateMetric = "accuracy",
    min_improvement: MinImprovement = 0.0,
    experiment: ExperimentName = DEFAULT_EXPERIMENT,
    refresh_data: bool = True,
    deploy: DeployMode = "event",
) -> TrainingResult:
    """Retrain on fresh data, promote when the challenger wins, deploy the new champion."""
    result = await training(
        source=source,
        start=start,
        end=end,
        window=window,
        split=split,
        test_size=test_size,
        model=model,
        hyperparameters=hyperparameters,
        register_as=register_as,
        metric=metric,
        min_improvement=min_improvement,
        promote=True,
        experiment=experiment,
        refresh_data=refresh_data,
    )
    logger = get_run_logger()
    if not result.champion_changed:
        logger.info("champion unchanged; nothing to deploy")
    elif deploy == "inline":
        result.extra["deploy"] = await deploy_inline(register_as, result.version)
    elif deploy == "event":
        logger.info(
            "champion is now %s v%s; the deploy deployment's trigger deploys it",
            register_as,
            result.version,
        )
    return result


async def deploy_inline(name: str, version: int):
    """Run the deploy flow (flows/deployment.py) as a subflow. Imported late:
    it brings in the serving stack, which training alone never needs."""
    from mlcadence.flows.deployment import deploy as deploy_flow

    offered = {"model_uri": f"models:/{name}/{version}", "model_name": name, "version": version}
    accepted = inspect.signature(deploy_flow.fn).parameters
    outcome = deploy_flow(**{k: v for k, v in offered.items() if k in accepted})
    if inspect.isawaitable(outcome):
        outcome = await outcome
    return outcome if isinstance(outcome, (dict, str, int, type(None))) else repr(outcome)
