"""Prefect tasks for a parameter sweep: one candidate (window × estimator)
per task, each in its own child tracking run under the sweep's parent run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import task

from mlcadence.pipeline import estimators, evaluation
from mlcadence.pipeline.candidate_runs import TrackingTarget, candidate_run
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
    target: TrackingTarget,
) -> Candidate:
    """Train and score one candidate in a child run of the sweep's parent run.
    It may run on a Dask worker in another process or machine: everything it
    logs with comes in `target`, nothing from this process's state."""
    resolved = estimators.resolve_hyperparameters(model, hyperparameters)
    params = {**shared_params, "model": model, "window": window, **split.sizes, **resolved}
    with candidate_run(target, model, window) as child:
        child.log_params(params)
        fitted = estimators.fit(model, hyperparameters, split.X_train, split.y_train)
        scored = evaluation.evaluate(fitted, split.X_test, split.y_test, split.y_train)
        child.log_evaluation(scored)
    return Candidate(child.run_id, window, model, params, scored.metrics, fitted, split)


@task(name="log-best-model")
def log_candidate_model(candidate: Candidate) -> str:
    """The winner's model (MLmodel format) into the winner's own child run."""
    return record.log_fitted_model(candidate.fitted, candidate.split, run_id=candidate.run_id)
