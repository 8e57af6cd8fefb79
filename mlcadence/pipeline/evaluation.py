"""Scores of a fitted classifier on the test set, with the book's metric names.

Metric names (all logged to the tracking run; all higher-is-better):
  accuracy                     share of test days predicted right
  precision_label_0, recall_label_0, f1score_label_0   for label 0 ("down or flat")
  precision_label_1, recall_label_1, f1score_label_1   for label 1 ("up")
  f1score_macro                mean of f1score_label_0 and f1score_label_1
  baseline_accuracy            accuracy of always predicting the training set's
                               majority class: a model not above it learnt nothing
  accuracy_over_baseline       accuracy - baseline_accuracy
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS = (0, 1)
PER_LABEL = ("precision", "recall", "f1score")
METRIC_NAMES: tuple[str, ...] = (
    "accuracy",
    *(f"{m}_label_{label}" for label in LABELS for m in PER_LABEL),
    "f1score_macro",
    "baseline_accuracy",
    "accuracy_over_baseline",
)


@dataclass
class Evaluation:
    metrics: dict[str, float]
    report: str  # sklearn's text classification report
    confusion: list[list[int]]  # rows = true label 0/1, columns = predicted 0/1
    majority_class: int

    def confusion_dict(self) -> dict:
        return {
            "labels": list(LABELS),
            "rows": "true",
            "columns": "predicted",
            "matrix": self.confusion,
        }


def evaluate(model, X_test, y_test, y_train) -> Evaluation:
    from sklearn.metrics import classification_report, confusion_matrix

    predicted = model.predict(X_test)
    metrics = scores(y_test, predicted, y_train)
    majority = majority_class(y_train)
    report = classification_report(
        y_test, predicted, labels=list(LABELS), target_names=["down (0)", "up (1)"], zero_division=0
    )
    confusion = confusion_matrix(y_test, predicted, labels=list(LABELS)).tolist()
    return Evaluation(metrics, report, [[int(v) for v in row] for row in confusion], majority)


def scores(y_test, predicted, y_train) -> dict[str, float]:
    """Every metric of METRIC_NAMES for `predicted` against `y_test`; the
    baseline is the majority class of `y_train`."""
    import numpy as np
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(
        y_test, predicted, labels=list(LABELS), zero_division=0
    )
    metrics: dict[str, float] = {"accuracy": float(accuracy_score(y_test, predicted))}
    for i, label in enumerate(LABELS):
        for name, values in zip(PER_LABEL, (precision, recall, f1), strict=True):
            metrics[f"{name}_label_{label}"] = float(values[i])
    metrics["f1score_macro"] = float(np.mean(f1))
    majority = majority_class(y_train)
    metrics["baseline_accuracy"] = float(np.mean(np.asarray(y_test) == majority))
    metrics["accuracy_over_baseline"] = metrics["accuracy"] - metrics["baseline_accuracy"]
    return metrics


def majority_class(y_train) -> int:
    """The most frequent training label; ties go to 1 (the larger label)."""
    import numpy as np

    counts = np.bincount(np.asarray(y_train, dtype="int64"), minlength=len(LABELS))
    return int(len(counts) - 1 - np.argmax(counts[::-1]))
