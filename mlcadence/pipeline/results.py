"""What a training flow produced, as one record: returned by the flows,
published as the model card, printed by the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TrainingResult:
    run_id: str
    experiment_id: str
    model_uri: str
    metrics: dict[str, float]
    dataset: dict[str, str]
    params: dict[str, Any]
    registered_name: str | None = None
    version: int | None = None
    decision: dict[str, Any] | None = None  # GateDecision.as_dict() when gated
    champion_changed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
