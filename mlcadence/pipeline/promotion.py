"""Promotion: who the champion is, why a version becomes it, and the alias move.

One path for every promotion, whether the gate decided it (training, sweep,
retraining), a person did (`mlcadence models promote`, `models alias NAME
champion V`) or a rollback (`mlcadence models rollback`): the reason is
recorded on the model version (and on the deciding run), the move is appended
to the alias's history on the registered model, the alias moves, and only then
is `on_promoted` told. The callback is a plain function, so this module never
depends on Prefect; the Prefect task passes one that emits the
`mlcadence.model.promoted` event.

The event names the alias URI (`models:/name@champion`), not the version: a
deployment made from it follows the alias, so it ends up serving whatever the
champion is when it runs, even after a later promotion or a rollback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcadence import tracking
from mlcadence.pipeline.errors import PromotionError
from mlcadence.pipeline.gate import PROMOTED, GateDecision, decide
from mlcadence.tracking.errors import NotFound

CHAMPION = "champion"
CHALLENGER = "challenger"
GATE_TAG_PREFIX = "mlcadence.gate."
# Registered-model tag holding an alias's moves, oldest first, as JSON.
HISTORY_TAG_PREFIX = "mlcadence.alias_history."
# Moves kept per alias: enough to roll back far, small enough for any
# backend's tag value limit (MLflow's registry allows 5000 characters).
HISTORY_LIMIT = 60
# Who moved an alias: the gate, a person, or a rollback (which undoes a move).
BY_GATE, BY_HAND, BY_ROLLBACK = "gate", "hand", "rollback"


@dataclass(frozen=True)
class Promotion:
    """What `on_promoted` receives: `version` of `name` now holds `alias`."""

    name: str
    version: int
    alias: str
    previous_version: int | None
    metric: str | None = None
    score: float | None = None
    by: str = BY_GATE

    @property
    def model_uri(self) -> str:
        """What a deployment of this promotion serves: the alias, which it
        follows, so a later move is never answered by a stale version."""
        return f"models:/{self.name}@{self.alias}"

    @property
    def version_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def payload(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "alias": self.alias,
            "version": self.version,
            "model_uri": self.model_uri,
            "version_uri": self.version_uri,
            "by": self.by,
            "metric": self.metric,
            "score": self.score,
            "previous_version": self.previous_version,
        }


@dataclass(frozen=True)
class AliasMove:
    """One entry of an alias's history: `version` took the alias from `previous`."""

    version: int
    previous: int | None
    by: str
    at: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "previous": self.previous, "by": self.by, "at": self.at}

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> AliasMove:
        previous = entry.get("previous")
        return cls(
            int(entry["version"]),
            None if previous is None else int(previous),
            str(entry.get("by", BY_HAND)),
            str(entry.get("at", "")),
        )


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


def alias_history(client: tracking.Client, name: str, alias: str = CHAMPION) -> list[AliasMove]:
    """Every recorded move of `alias`, oldest first ([] when none was recorded)."""
    raw = client.get_registered_model(name).tags.get(HISTORY_TAG_PREFIX + alias)
    try:
        return [AliasMove.from_json(entry) for entry in json.loads(raw or "[]")]
    except (ValueError, TypeError, KeyError):
        return []  # written by hand or damaged: no history to trust


def _append_history(client: tracking.Client, name: str, alias: str, move: AliasMove) -> None:
    moves = [*alias_history(client, name, alias), move][-HISTORY_LIMIT:]
    value = json.dumps([m.to_json() for m in moves], separators=(",", ":"))
    client.set_registered_model_tag(name, HISTORY_TAG_PREFIX + alias, value)


def holders(history: list[AliasMove], current: int | None) -> list[int]:
    """The versions that held the alias, as a stack (the current one last):
    a promotion pushes, a rollback pops. A move made outside this module (the
    alias set directly) shows as a `current` that is not on top, and is pushed."""
    stack: list[int] = []
    for move in history:
        if move.by == BY_ROLLBACK:
            while stack and stack[-1] != move.version:
                stack.pop()
            if not stack:
                stack.append(move.version)
        else:
            stack.append(move.version)
    if current is not None and (not stack or stack[-1] != current):
        stack.append(current)
    return stack


def rollback_target(client: tracking.Client, name: str, alias: str = CHAMPION) -> int:
    """The version that held `alias` before the current one, from the history."""
    current = client.get_registered_model(name).aliases.get(alias)
    if current is None:
        raise PromotionError(
            f"{name} has no {alias!r} alias, so there is nothing to roll back; "
            f"promote a version with `mlcadence models promote {name} VERSION`."
        )
    stack = holders(alias_history(client, name, alias), int(current))
    earlier = [v for v in stack[:-1] if v != int(current)]
    if not earlier:
        raise PromotionError(
            f"{name}@{alias} (version {current}) has no earlier holder in its history; "
            f"choose the version yourself with `mlcadence models promote {name} VERSION`."
        )
    return earlier[-1]


def promote(
    client: tracking.Client,
    name: str,
    version: int,
    *,
    reason: GateDecision | str,
    alias: str = CHAMPION,
    run_id: str | None = None,
    on_promoted: OnPromoted | None = None,
    by: str | None = None,
) -> Promotion:
    """Make `version` of `name` the one `alias` resolves to.

    `reason` is the gate's decision, or a sentence saying who promoted it and
    why; `by` is who moved it (default: the gate for a decision, else a
    person). Nothing changes when the version does not exist (NotFound first)."""
    client.get_model_version(name, version)
    previous = client.get_registered_model(name).aliases.get(alias)
    previous = None if previous is None else int(previous)
    if isinstance(reason, GateDecision):
        record = decision_record(reason)
        metric, score = reason.metric, reason.challenger_score
    else:
        record = {"decision": PROMOTED, "reason": reason, "alias": alias}
        metric, score = None, None
    by = by or (BY_GATE if isinstance(reason, GateDecision) else BY_HAND)
    record_decision(client, name, version, record, run_id)
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _append_history(client, name, alias, AliasMove(int(version), previous, by, at))
    client.set_registered_model_alias(name, alias, version)
    promotion = Promotion(name, int(version), alias, previous, metric, score, by)
    if on_promoted is not None:
        on_promoted(promotion)
    return promotion


def rollback(
    client: tracking.Client,
    name: str,
    *,
    alias: str = CHAMPION,
    on_promoted: OnPromoted | None = None,
) -> Promotion:
    """Move `alias` back to the version that held it before the current one,
    through `promote` (recorded, announced), as a move that a later rollback
    goes on undoing."""
    current = client.get_registered_model(name).aliases.get(alias)
    target = rollback_target(client, name, alias)
    return promote(
        client,
        name,
        target,
        reason=f"rolled back from version {current} (mlcadence models rollback)",
        alias=alias,
        on_promoted=on_promoted,
        by=BY_ROLLBACK,
    )


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
