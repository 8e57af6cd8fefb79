"""Prefect tasks for fitting and scoring a model (logic in mlcadence.pipeline)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.logging import get_run_logger

from mlcadence.pipeline import estimators, evaluation
from mlcadence.pipeline.features import Split


@task(name="train")
def train(split: Split, model: str, hyperparameters: dict[str, Any] | None = None):
    fitted = estimators.fit(model, hyperparameters, split.X_train, split.y_train)
    get_run_logger().info("trained %s on %d rows", model, len(split.X_train))
    return fitted


@task(name="evaluate")
def evaluate(fitted, split: Split) -> evaluation.Evaluation:
    result = evaluation.evaluate(fitted, split.X_test, split.y_test, split.y_train)
    m = result.metrics
    get_run_logger().info(
        "accuracy %.4f (majority baseline %.4f), f1 up %.4f, f1 down %.4f",
        m["accuracy"],
        m["baseline_accuracy"],
        m["f1score_label_1"],
        m["f1score_label_0"],
    )
    return result
