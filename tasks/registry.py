"""Prefect tasks over the model registry: register a challenger, and the
promotion gate that may make it the champion (and says so with an event).
The decisions are `mlcadence.pipeline.promotion`'s; these tasks add the run's
log lines and the Prefect event."""

from __future__ import annotations

from prefect import task
from prefect.events import emit_event
from prefect.logging import get_run_logger

from mlcadence import tracking
from mlcadence.pipeline import promotion
from mlcadence.pipeline.gate import GateDecision

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


@task(name="promote")
def promote(
    name: str,
    version: int,
    metric: str,
    challenger_score: float,
    min_improvement: float = 0.0,
) -> GateDecision:
    """Gate the challenger against the champion; move `champion` when it wins.

    The decision and both scores are recorded on the challenger's version (and
    the active run); a change of champion emits `mlcadence.model.promoted`."""
    active = tracking.active_run()
    decision = promotion.gate(
        tracking.Client(),
        name,
        version,
        metric=metric,
        challenger_score=challenger_score,
        min_improvement=min_improvement,
        run_id=active.info.run_id if active else None,
        on_promoted=announce_promotion,
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
