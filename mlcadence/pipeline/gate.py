"""The promotion gate: does the challenger replace the champion?

Both models are scored on the same days (`backtest.compare`: the champion's
recipe rebuilt from the challenger's data, walk-forward folds for time
splits), and the challenger is promoted only when its improvement on the
metric is above 0, at least `min_improvement`, and larger than the noise: a
paired bootstrap on those days (`significance`) must put it above 0 at the
policy's confidence. Equal models never promote, so retraining on unchanged
data does not churn the champion (and the deployment behind it).

The other outcomes, in order:
  1. no champion yet                             → promote
  2. the champion cannot be re-scored            → the policy's `unscorable`
     (its recipe or model unknown or unloadable)   (keep | replace | fail)
  3. a different label rule or split method      → refused, unless the policy
                                                   allows the mismatch

`decide` is the plain score-versus-score rule, for a caller with two scores
and nothing to re-score (e.g. the benchmark's MLflow project).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mlcadence.pipeline.errors import ChampionUnscorable, InvalidConfig

if TYPE_CHECKING:
    from mlcadence.pipeline.backtest import Comparison

PROMOTED = "promoted"
REJECTED = "rejected"
UNSCORABLE_POLICIES = ("keep", "replace", "fail")


@dataclass(frozen=True)
class GatePolicy:
    """How the gate decides; the flows build it from their parameters."""

    metric: str = "accuracy"
    min_improvement: float = 0.0
    confidence: float = 0.95
    folds: int = 5
    unscorable: str = "keep"
    allow_mismatch: bool = False

    def __post_init__(self) -> None:
        if self.min_improvement < 0 or math.isnan(self.min_improvement):
            raise InvalidConfig(f"min_improvement must be >= 0, got {self.min_improvement}")
        if not 0 < self.confidence < 1:
            raise InvalidConfig(f"gate_confidence must be between 0 and 1, got {self.confidence}")
        if self.unscorable not in UNSCORABLE_POLICIES:
            raise InvalidConfig(
                f"gate_unscorable must be one of {', '.join(UNSCORABLE_POLICIES)}, "
                f"got {self.unscorable!r}"
            )


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    metric: str
    challenger_score: float
    champion_score: float | None
    champion_version: int | None
    min_improvement: float
    # Set when both models were scored on the same days:
    test: str | None = None
    p_value: float | None = None
    confidence: float | None = None
    evaluation: dict[str, Any] | None = None  # Comparison.as_dict()

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

    def fold_scores(self, side: str) -> list[float]:
        """The metric per fold for "challenger" or "champion" ([] unless compared)."""
        folds = (self.evaluation or {}).get("folds", [])
        return [fold[side][self.metric] for fold in folds]

    def record(self) -> dict[str, str]:
        """The decision as tag values (tags are strings; '' for none): the
        outcome, both scores, and, when both were scored on the same days,
        the test, its p-value and both models' score per fold."""
        record = {
            "decision": self.outcome,
            "reason": self.reason,
            "metric": self.metric,
            "challenger_score": repr(self.challenger_score),
            "champion_score": "" if self.champion_score is None else repr(self.champion_score),
            "champion_version": "" if self.champion_version is None else str(self.champion_version),
            "min_improvement": repr(self.min_improvement),
        }
        if self.evaluation is not None:
            spread = self.evaluation["spread"][self.metric]
            record |= {
                "test": str(self.test),
                "p_value": repr(self.p_value),
                "confidence": repr(self.confidence),
                "evaluation": f"{self.evaluation['method']}, {len(self.evaluation['folds'])} "
                f"folds, {self.evaluation['rows']} days",
                **{
                    f"{side}_folds": " ".join(f"{v:.4f}" for v in self.fold_scores(side))
                    for side in ("challenger", "champion")
                },
                **{
                    f"{side}_mean_std": f"{spread[side + '_mean']:.4f} ± {spread[side + '_std']:.4f}"
                    for side in ("challenger", "champion")
                },
            }
        return record


def decide(
    metric: str,
    challenger_score: float,
    champion_score: float | None,
    champion_version: int | None = None,
    min_improvement: float = 0.0,
    higher_is_better: bool = True,
) -> GateDecision:
    """Score against score: promote when the challenger's is higher by at
    least `min_improvement` (and by more than 0)."""
    if min_improvement < 0 or math.isnan(min_improvement):
        raise InvalidConfig(f"min_improvement must be >= 0, got {min_improvement}")
    _check_score(metric, challenger_score)

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
    if _enough(improvement, min_improvement):
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


def _check_score(metric: str, score: float | None) -> None:
    if score is None or math.isnan(score):
        raise InvalidConfig(f"the challenger has no {metric} score to compare")


def _enough(improvement: float, min_improvement: float) -> bool:
    # The epsilon keeps 0.55 - 0.50 (= 0.04999…) counting as an improvement of 0.05.
    return improvement > 0 and improvement >= min_improvement - 1e-12


def decide_on_comparison(
    policy: GatePolicy, comparison: Comparison, champion_version: int
) -> GateDecision:
    """Promote when the challenger beats the champion on the same days by
    enough, and the paired test says it is not noise."""
    from mlcadence.pipeline import significance

    metric = policy.metric
    y = comparison.y_true
    new = significance.score(y, comparison.challenger_predicted, metric)
    old = significance.score(y, comparison.champion_predicted, metric)
    p_value = significance.paired_bootstrap(
        y, comparison.challenger_predicted, comparison.champion_predicted, metric
    )
    alpha = 1 - policy.confidence
    improvement = new - old
    where = f"on the same {comparison.describe()}"
    scores = f"{metric} {new:.4f} against champion v{champion_version}'s {old:.4f} {where}"
    if not _enough(improvement, policy.min_improvement):
        promote = False
        if improvement <= 0:
            reason = f"The challenger scored {scores}: no improvement."
        else:
            reason = (
                f"The challenger scored {scores}: an improvement of {improvement:.4f}, "
                f"less than the minimum of {policy.min_improvement}."
            )
    elif p_value >= alpha:
        promote = False
        reason = (
            f"The challenger scored {scores}, but an improvement of {improvement:.4f} is "
            f"within the noise ({significance.TEST_NAME} p = {p_value:.3f}, not below "
            f"{alpha:.3g})."
        )
    else:
        promote = True
        reason = (
            f"The challenger scored {scores}: an improvement of {improvement:.4f}, beyond "
            f"the noise ({significance.TEST_NAME} p = {p_value:.3f} < {alpha:.3g})."
        )
    return GateDecision(
        promote,
        reason,
        metric,
        new,
        old,
        champion_version,
        policy.min_improvement,
        test=significance.TEST_NAME,
        p_value=p_value,
        confidence=policy.confidence,
        evaluation=comparison.as_dict(),
    )


def decide_unscorable(
    policy: GatePolicy, challenger_score: float, champion_version: int, why: str
) -> GateDecision:
    """The champion cannot be re-scored on the challenger's data (`why`): the
    policy keeps it, replaces it, or fails the run."""
    _check_score(policy.metric, challenger_score)
    problem = f"Champion v{champion_version} cannot be re-scored on the challenger's data: {why}."
    if policy.unscorable == "fail":
        raise ChampionUnscorable(
            f"{problem} Set gate_unscorable (CLI: --gate-unscorable) to keep or replace "
            "to decide without re-scoring it."
        )
    promote = policy.unscorable == "replace"
    verdict = "it is replaced" if promote else "it is kept"
    return GateDecision(
        promote,
        f"{problem} By gate_unscorable={policy.unscorable}, {verdict}.",
        policy.metric,
        challenger_score,
        None,
        champion_version,
        policy.min_improvement,
    )


def refuse_mismatch(
    policy: GatePolicy, challenger_score: float, champion_version: int, differences: list[str]
) -> GateDecision:
    """Models trained with another label rule or split method are not compared
    unless the policy allows it: the champion stays."""
    _check_score(policy.metric, challenger_score)
    return GateDecision(
        False,
        f"Refused to compare with champion v{champion_version}: they differ in "
        f"{'; '.join(differences)} (challenger vs champion). Set gate_allow_mismatch "
        "(CLI: --gate-allow-mismatch) to compare them anyway on the challenger's data "
        "(walk-forward when either split is by time).",
        policy.metric,
        challenger_score,
        None,
        champion_version,
        policy.min_improvement,
    )
