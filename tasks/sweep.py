"""Prefect tasks for a parameter sweep: one candidate (window × estimator)
per task, each in its own child tracking run under the sweep's parent run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import task

from mlcadence import tracking
from mlcadence.pipeline import estimators, evaluation
from mlcadence.pipeline.features import Split


@dataclass
class Candidate:
    run_id: str
    window: int
    model: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fitted: Any
    split: Split
    evaluation: evaluation.Evaluation

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
        tracking.log_params({k: "" if v is None else str(v) for k, v in params.items()})
        fitted = estimators.fit(model, hyperparameters, split.X_train, split.y_train)
        scored = evaluation.evaluate(fitted, split.X_test, split.y_test, split.y_train)
        tracking.log_metrics(scored.metrics)
        tracking.log_text(scored.report, "evaluation/classification_report.txt")
        tracking.log_dict(scored.confusion_dict(), "evaluation/confusion_matrix.json")
    return Candidate(child.run_id, window, model, params, scored.metrics, fitted, split, scored)


@task(name="log-best-model")
def log_candidate_model(candidate: Candidate) -> str:
    """The winner's model (MLmodel format) into the winner's own child run."""
    from mlcadence.tasks.record import INPUT_EXAMPLE_ROWS
    from mlcadence.tracking import models

    example = candidate.split.X_test.head(INPUT_EXAMPLE_ROWS)
    signature = models.infer_signature(example, candidate.fitted.predict(example))
    info = models.log_model(
        candidate.fitted,
        artifact_path="model",
        input_example=example,
        signature=signature,
        run_id=candidate.run_id,
    )
    return info.model_uri
