"""Prefect tasks for a parameter sweep: one candidate (window × estimator)
per task, each in its own child tracking run under the sweep's parent run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import task

from mlcadence import tracking
from mlcadence.pipeline import estimators, evaluation
from mlcadence.pipeline.features import Split
from mlcadence.tasks import record


@dataclass
class Candidate:
    run_id: str
    window: int
    model: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fitted: Any
    split: Split

    def row(self, metric: str) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model": self.model,
            "window": self.window,
            metric: round(self.metrics[metric], 6),
            "accuracy": round(self.metrics["accuracy"], 6),
            "baseline_accuracy": round(self.metrics["baseline_accuracy"], 6),
        }


@task(name="fit-candidate")
def fit_candidate(
    split: Split,
    window: int,
    model: str,
    hyperparameters: dict[str, Any],
    shared_params: dict[str, Any],
) -> Candidate:
    """Train and score one candidate in a child run of the active run. The
    task runner copies the caller's context into its thread, so the parent
    run is active here and the child gets `mlflow.parentRunId`."""
    resolved = estimators.resolve_hyperparameters(model, hyperparameters)
    params = {**shared_params, "model": model, "window": window, **split.sizes, **resolved}
    with tracking.start_run(run_name=f"{model}-w{window}", nested=True) as child:
        record.log_params(params)
        fitted = estimators.fit(model, hyperparameters, split.X_train, split.y_train)
        scored = evaluation.evaluate(fitted, split.X_test, split.y_test, split.y_train)
        record.log_evaluation(scored)
    return Candidate(child.run_id, window, model, params, scored.metrics, fitted, split)


@task(name="log-best-model")
def log_candidate_model(candidate: Candidate) -> str:
    """The winner's model (MLmodel format) into the winner's own child run."""
    return record.log_fitted_model(candidate.fitted, candidate.split, run_id=candidate.run_id)
