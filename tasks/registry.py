"""Prefect tasks over the model registry: register a challenger, and the
promotion gate that may make it the champion (and says so with an event)."""

from __future__ import annotations

from prefect import task
from prefect.events import emit_event
from prefect.logging import get_run_logger

from mlcadence import tracking
from mlcadence.pipeline import gate
from mlcadence.tracking.errors import NotFound

CHALLENGER = "challenger"
CHAMPION = "champion"
PROMOTED_EVENT = "mlcadence.model.promoted"
GATE_TAG_PREFIX = "mlcadence.gate."


def model_resource_id(name: str) -> str:
    return f"mlcadence.model.{name}"


@task(name="register")
def register(model_uri: str, name: str, run_id: str) -> int:
    """A new version of `name` from the logged model, aliased `challenger`."""
    from mlcadence.tracking.registry import register_model

    version = register_model(model_uri, name, tags={"mlcadence.source_run_id": run_id})
    client = tracking.Client()
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    tracking.set_tags(
        {"mlcadence.model.name": name, "mlcadence.model.version": str(version.version)}
    )
    get_run_logger().info("registered %s version %s (alias %s)", name, version.version, CHALLENGER)
    return int(version.version)


def current_champion(
    client: tracking.Client, name: str, metric: str
) -> tuple[int | None, float | None]:
    """(version, its score on `metric`) of the champion, or (None, None)."""
    # The registered model's alias table, not get_model_version_by_alias: a
    # missing alias is an ordinary state here, not an error to catch.
    version = client.get_registered_model(name).aliases.get(CHAMPION)
    if version is None:
        return None, None
    champion = client.get_model_version(name, version)
    score = None
    if champion.run_id:
        try:
            score = client.get_run(champion.run_id).data.metrics.get(metric)
        except NotFound:
            score = None  # its run was deleted: it cannot be compared
    return int(champion.version), score


@task(name="promote")
def promote(
    name: str,
    version: int,
    metric: str,
    challenger_score: float,
    min_improvement: float = 0.0,
) -> gate.GateDecision:
    """Gate the challenger against the champion; move `champion` when it wins.

    The decision and both scores are recorded on the challenger's version (and
    its run); a change of champion emits `mlcadence.model.promoted`."""
    client = tracking.Client()
    champion_version, champion_score = current_champion(client, name, metric)
    decision = gate.decide(
        metric, challenger_score, champion_score, champion_version, min_improvement
    )
    record = {
        "decision": decision.outcome,
        "reason": decision.reason,
        "metric": metric,
        "challenger_score": repr(challenger_score),
        "champion_score": "" if champion_score is None else repr(champion_score),
        "champion_version": "" if champion_version is None else str(champion_version),
        "min_improvement": repr(min_improvement),
    }
    for key, value in record.items():
        client.set_model_version_tag(name, version, GATE_TAG_PREFIX + key, value)
    tracking.set_tags({GATE_TAG_PREFIX + k: v for k, v in record.items()})
    logger = get_run_logger()
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, version)
        emit_event(
            event=PROMOTED_EVENT,
            resource={
                "prefect.resource.id": model_resource_id(name),
                "prefect.resource.name": name,
            },
            payload={
                "name": name,
                "version": version,
                "model_uri": f"models:/{name}/{version}",
                "metric": metric,
                "score": challenger_score,
                "previous_version": champion_version,
            },
        )
        logger.info("promoted %s v%s to %s: %s", name, version, CHAMPION, decision.reason)
    else:
        logger.info("kept %s v%s as %s: %s", name, champion_version, CHAMPION, decision.reason)
    return decision
