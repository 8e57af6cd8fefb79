"""Prefect tasks over the model registry: register a challenger, and the
promotion gate that may make it the champion (and says so with an event).
The decisions are `mlcadence.pipeline`'s (`rescoring` judges, `promotion`
records and moves the alias); these tasks add the run's log lines, the
comparison artifact and the Prefect event."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.logging import get_run_logger

from mlcadence import tracking
from mlcadence.pipeline import promotion, rescoring
from mlcadence.pipeline.gate import GateDecision, GatePolicy
from mlcadence.pipeline.recipe import Recipe
from mlcadence.pipeline.sources import Dataset

COMPARISON_ARTIFACT = "gate/comparison.json"

PROMOTED_EVENT = "mlcadence.model.promoted"


def model_resource_id(name: str) -> str:
    return f"mlcadence.model.{name}"


def announce_promotion(promoted: promotion.Promotion) -> None:
    """Emit `mlcadence.model.promoted`: the `deploy` deployment's trigger reads
    `model_uri`, `name` and `version` from its payload."""
    emit_event(
        event=PROMOTED_EVENT,
        resource={
            "prefect.resource.id": model_resource_id(promoted.name),
            "prefect.resource.name": promoted.name,
        },
        payload=promoted.payload(),
    )


@task(name="register")
def register(model_uri: str, name: str, run_id: str) -> int:
    """A new version of `name` from the logged model, aliased `challenger`."""
    from mlcadence.tracking.registry import register_model

    version = register_model(model_uri, name, tags={"mlcadence.source_run_id": run_id})
    client = tracking.Client()
    client.set_registered_model_alias(name, promotion.CHALLENGER, version.version)
    tracking.set_tags(
        {"mlcadence.model.name": name, "mlcadence.model.version": str(version.version)}
    )
    get_run_logger().info(
        "registered %s version %s (alias %s)", name, version.version, promotion.CHALLENGER
    )
    return int(version.version)


@task(name="promote", cache_policy=NO_CACHE)  # a side effect each time; never reused
def promote(
    name: str,
    version: int,
    challenger: Recipe,
    dataset: Dataset,
    challenger_score: float,
    policy: GatePolicy,
) -> GateDecision:
    """Gate the challenger against the champion, both scored on `dataset`;
    move `champion` when it wins.

    The decision, both scores per fold and the test's p-value are recorded on
    the challenger's version (and the active run, with the whole comparison
    as an artifact); a change of champion emits `mlcadence.model.promoted`."""
    client = tracking.Client()
    active = tracking.active_run()
    run_id = active.info.run_id if active else None
    decision = rescoring.judge(client, name, challenger, dataset.frame, challenger_score, policy)
    if decision.evaluation is not None and run_id:
        tracking.log_dict(decision.as_dict(), COMPARISON_ARTIFACT)
    if decision.promote:
        promotion.promote(
            client, name, version, reason=decision, run_id=run_id, on_promoted=announce_promotion
        )
    else:
        promotion.record_decision(
            client, name, version, promotion.decision_record(decision), run_id
        )
    logger = get_run_logger()
    if decision.promote:
        logger.info("promoted %s v%s to %s: %s", name, version, promotion.CHAMPION, decision.reason)
    else:
        logger.info(
            "kept %s v%s as %s: %s",
            name,
            decision.champion_version,
            promotion.CHAMPION,
            decision.reason,
        )
    return decision
