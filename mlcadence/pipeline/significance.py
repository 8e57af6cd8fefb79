"""Is an improvement larger than the noise? A paired bootstrap on the same rows.

Both models' predictions of the same rows are resampled together (the same
rows drawn for both, with replacement); the p-value is the share of
resamples in which the challenger does not beat the champion on the metric.
It is one-sided (only an improvement promotes) and deterministic (a fixed
seed), so the same evaluation always yields the same decision. Works for
every metric of `evaluation.METRIC_NAMES`, computed from confusion counts so
thousands of resamples cost milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TEST_NAME = "paired bootstrap"
RESAMPLES = 2000
SEED = 4284
CHUNK = 200  # resamples drawn at a time: bounds memory at CHUNK x rows


def _ratio(numerator, denominator):
    return np.divide(
        numerator, denominator, out=np.zeros_like(numerator, dtype=float), where=denominator > 0
    )


def _f1(hit, miss_a, miss_b):
    return _ratio(2 * hit, 2 * hit + miss_a + miss_b)


# Each metric from confusion counts (arrays of tn, fp, fn, tp), as
# evaluation.scores computes it. Baseline accuracy is the same for both models
# on the same rows, so it cancels out of a paired difference: it scores 0 and
# accuracy_over_baseline scores as accuracy.
Cells = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
CONFUSION_SCORES: dict[str, Callable[..., np.ndarray]] = {
    "accuracy": lambda tn, fp, fn, tp: _ratio(tn + tp, tn + fp + fn + tp),
    "precision_label_0": lambda tn, fp, fn, tp: _ratio(tn, tn + fn),
    "recall_label_0": lambda tn, fp, fn, tp: _ratio(tn, tn + fp),
    "f1score_label_0": lambda tn, fp, fn, tp: _f1(tn, fn, fp),
    "precision_label_1": lambda tn, fp, fn, tp: _ratio(tp, tp + fp),
    "recall_label_1": lambda tn, fp, fn, tp: _ratio(tp, tp + fn),
    "f1score_label_1": lambda tn, fp, fn, tp: _f1(tp, fp, fn),
    "f1score_macro": lambda tn, fp, fn, tp: (_f1(tn, fn, fp) + _f1(tp, fp, fn)) / 2,
    "baseline_accuracy": lambda tn, fp, fn, tp: np.zeros_like(tn, dtype=float),
    "accuracy_over_baseline": lambda tn, fp, fn, tp: _ratio(tn + tp, tn + fp + fn + tp),
}


def _cells(codes: np.ndarray) -> Cells:
    """Counts of (tn, fp, fn, tp) per row of `codes` (2 * truth + predicted)."""
    return tuple((codes == code).sum(axis=-1) for code in range(4))  # type: ignore[return-value]


def score(y_true, predicted, metric: str) -> float:
    return float(CONFUSION_SCORES[metric](*_cells(2 * np.asarray(y_true) + predicted)))


def paired_bootstrap(
    y_true, challenger, champion, metric: str, resamples: int = RESAMPLES, seed: int = SEED
) -> float:
    """One-sided p-value that `challenger` is no better than `champion` on
    `metric` over the same rows: (1 + resamples where it is not) / (1 + all)."""
    y = np.asarray(y_true, dtype="int64")
    a = 2 * y + np.asarray(challenger, dtype="int64")
    b = 2 * y + np.asarray(champion, dtype="int64")
    scorer = CONFUSION_SCORES[metric]
    rng = np.random.default_rng(seed)
    not_better = 0
    for start in range(0, resamples, CHUNK):
        rows = rng.integers(0, len(y), size=(min(CHUNK, resamples - start), len(y)))
        difference = scorer(*_cells(a[rows])) - scorer(*_cells(b[rows]))
        not_better += int(np.count_nonzero(difference <= 1e-12))
    return (1 + not_better) / (1 + resamples)
