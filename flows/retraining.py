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

from prefect import flow
from prefect.logging import get_run_logger

from mlcadence.flows.parameters import RetrainingParameters, takes
from mlcadence.flows.training import training
from mlcadence.pipeline.results import TrainingResult


@flow(name="retraining")
@takes(RetrainingParameters)
async def retraining(parameters: RetrainingParameters) -> TrainingResult:
    """Retrain on fresh data, promote when the challenger wins, deploy the new champion."""
    result = await training(**parameters.training().model_dump())
    name = parameters.register_as
    logger = get_run_logger()
    if not result.champion_changed:
        logger.info("champion unchanged; nothing to deploy")
    elif parameters.deploy == "inline":
        result.extra["deploy"] = await deploy_inline(name, result.version)
    elif parameters.deploy == "event":
        logger.info(
            "champion is now %s v%s; the deploy deployment's trigger deploys it",
            name,
            result.version,
        )
    return result


async def deploy_inline(name: str, version: int) -> dict:
    """Run the deploy flow (flows/deployment.py) as a subflow, for the alias
    (which the deployment then follows), as the promotion event's run does.
    Imported late: it brings in the serving stack, which training alone never needs."""
    from mlcadence.flows.deployment import deploy as deploy_flow

    return deploy_flow(model_uri=f"models:/{name}@champion", model_name=name, version=version)
