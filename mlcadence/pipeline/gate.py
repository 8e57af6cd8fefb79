"""The promotion gate: does the challenger replace the champion?

Rules, in order:
  1. no champion yet                         → promote
  2. the champion has no score on the metric → promote (it cannot be compared)
  3. improvement = challenger - champion (for a higher-is-better metric);
     promote when improvement > 0 and improvement >= min_improvement.
Equal scores never promote, so retraining on unchanged data does not churn
the champion (and the deployment behind it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from mlcadence.pipeline.errors import InvalidConfig

PROMOTED = "promoted"
REJECTED = "rejected"


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    metric: str
    challenger_score: float
    champion_score: float | None
    champion_version: int | None
    min_improvement: float

    @property
    def outcome(self) -> str:
        return PROMOTED if self.promote else REJECTED

    @property
    def improvement(self) -> float | None:
        if self.champion_score is None:
            return None
        return self.challenger_score - self.champion_score

    def as_dict(self) -> dict:
        return {**asdict(self), "outcome": self.outcome, "improvement": self.improvement}


def decide(
    metric: str,
    challenger_score: float,
    champion_score: float | None,
    champion_version: int | None = None,
    min_improvement: float = 0.0,
    higher_is_better: bool = True,
) -> GateDecision:
    if min_improvement < 0 or math.isnan(min_improvement):
        raise InvalidConfig(f"min_improvement must be >= 0, got {min_improvement}")
    if challenger_score is None or math.isnan(challenger_score):
        raise InvalidConfig(f"the challenger has no {metric} score to compare")

    def decision(promote: bool, reason: str) -> GateDecision:
        return GateDecision(
            promote,
            reason,
            metric,
            challenger_score,
            champion_score,
            champion_version,
            min_improvement,
        )

    if champion_version is None:
        return decision(True, "no champion yet")
    if champion_score is None or math.isnan(champion_score):
        return decision(True, f"champion v{champion_version} has no {metric} score")
    improvement = challenger_score - champion_score
    if not higher_is_better:
        improvement = -improvement
    # The epsilon keeps 0.55 - 0.50 (= 0.04999…) counting as an improvement of 0.05.
    if improvement > 0 and improvement >= min_improvement - 1e-12:
        return decision(
            True,
            f"{metric} {challenger_score:.4f} beats champion v{champion_version} "
            f"{champion_score:.4f} by {improvement:.4f} (>= {min_improvement})",
        )
    return decision(
        False,
        f"{metric} {challenger_score:.4f} vs champion v{champion_version} {champion_score:.4f}: "
        f"improvement {improvement:.4f} is not above 0 and >= {min_improvement}",
    )
