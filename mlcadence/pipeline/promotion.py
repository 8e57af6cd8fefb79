"""Promotion: who the champion is, why a version becomes it, and the alias move.

One path for every promotion, whether the gate decided it (training, sweep,
retraining) or a person did (`mlcadence models promote`): the reason is
recorded on the model version (and on the deciding run), the alias moves, and
only then is `on_promoted` told. The callback is a plain function, so this
module never depends on Prefect; the Prefect task passes one that emits the
`mlcadence.model.promoted` event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcadence import tracking
from mlcadence.pipeline.gate import PROMOTED, GateDecision, decide
from mlcadence.tracking.errors import NotFound

CHAMPION = "champion"
CHALLENGER = "challenger"
GATE_TAG_PREFIX = "mlcadence.gate."


@dataclass(frozen=True)
class Promotion:
    """What `on_promoted` receives: `version` of `name` now holds `alias`."""

    name: str
    version: int
    alias: str
    previous_version: int | None
    metric: str | None = None
    score: float | None = None

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def payload(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "model_uri": self.model_uri,
            "metric": self.metric,
            "score": self.score,
            "previous_version": self.previous_version,
        }


OnPromoted = Callable[[Promotion], None]


def version_score(client: tracking.Client, run_id: str | None, metric: str) -> float | None:
    """The score of a version's run on `metric`; None when it has none (or
    its run was deleted), so it cannot be compared."""
    if not run_id:
        return None
    try:
        return client.get_run(run_id).data.metrics.get(metric)
    except NotFound:
        return None


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
    return int(champion.version), version_score(client, champion.run_id, metric)


def decision_record(decision: GateDecision) -> dict[str, str]:
    """The gate's decision as tag values (tags are strings; '' for none)."""
    return decision.record()


def record_decision(
    client: tracking.Client,
    name: str,
    version: int,
    record: dict[str, str],
    run_id: str | None = None,
) -> None:
    """Write `record` as `mlcadence.gate.*` tags on the version (and the run)."""
    tags = {GATE_TAG_PREFIX + key: value for key, value in record.items()}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if run_id:
        for key, value in tags.items():
            client.set_tag(run_id, key, value)


def promote(
    client: tracking.Client,
    name: str,
    version: int,
    *,
    reason: GateDecision | str,
    alias: str = CHAMPION,
    run_id: str | None = None,
    on_promoted: OnPromoted | None = None,
) -> Promotion:
    """Make `version` of `name` the one `alias` resolves to.

    `reason` is the gate's decision, or a sentence saying who promoted it and
    why. Nothing changes when the version does not exist (NotFound first)."""
    client.get_model_version(name, version)
    previous = client.get_registered_model(name).aliases.get(alias)
    if isinstance(reason, GateDecision):
        record = decision_record(reason)
        metric, score = reason.metric, reason.challenger_score
    else:
        record = {"decision": PROMOTED, "reason": reason, "alias": alias}
        metric, score = None, None
    record_decision(client, name, version, record, run_id)
    client.set_registered_model_alias(name, alias, version)
    promotion = Promotion(
        name, int(version), alias, None if previous is None else int(previous), metric, score
    )
    if on_promoted is not None:
        on_promoted(promotion)
    return promotion


def gate(
    client: tracking.Client,
    name: str,
    version: int,
    *,
    metric: str,
    challenger_score: float,
    min_improvement: float = 0.0,
    run_id: str | None = None,
    on_promoted: OnPromoted | None = None,
) -> GateDecision:
    """Compare `version` with the champion on `metric`; promote it when it wins.

    The decision and both scores are recorded on the version (and on `run_id`)
    either way."""
    champion_version, champion_score = current_champion(client, name, metric)
    decision = decide(metric, challenger_score, champion_score, champion_version, min_improvement)
    if decision.promote:
        promote(client, name, version, reason=decision, run_id=run_id, on_promoted=on_promoted)
    else:
        record_decision(client, name, version, decision_record(decision), run_id)
    return decision
