"""Prefect tasks that write a training run to the tracking store: lineage
tags, params, metrics, evaluation artifacts and the model itself."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from prefect import runtime, task
from prefect.context import FlowRunContext

from mlcadence import tracking
from mlcadence.pipeline.candidate_runs import param_texts, write_evaluation
from mlcadence.pipeline.evaluation import Evaluation
from mlcadence.pipeline.features import Split

# Tag names written on every run a flow opens (MLflow's own names where one exists).
FLOW_RUN_ID_TAG = "mlcadence.prefect.flow_run_id"
FLOW_RUN_NAME_TAG = "mlcadence.prefect.flow_run_name"
FLOW_NAME_TAG = "mlcadence.prefect.flow_name"
DEPLOYMENT_TAG = "mlcadence.prefect.deployment"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
INPUT_EXAMPLE_ROWS = 5


def git_commit(directory: Path) -> str | None:
    """HEAD of the repository holding `directory`, or None (no git, no commit)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def lineage_tags() -> dict[str, str]:
    """Where this run came from: the Prefect flow run (and deployment when a
    worker or serve process ran it) and the code's git commit."""
    tags = {
        FLOW_RUN_ID_TAG: str(runtime.flow_run.id or ""),
        FLOW_RUN_NAME_TAG: str(runtime.flow_run.name or ""),
        FLOW_NAME_TAG: str(runtime.flow_run.flow_name or ""),
    }
    # Asking for the deployment's name costs an API call: only ask when this
    # run came from a deployment, or is a subflow of a run that may have.
    context = FlowRunContext.get()
    flow_run = context.flow_run if context else None
    if flow_run is not None and (flow_run.deployment_id or flow_run.parent_task_run_id):
        deployment = runtime.deployment.name
        if deployment:
            tags[DEPLOYMENT_TAG] = str(deployment)
    # Workers run flows from the project directory (the pull step); a CLI user
    # from wherever they are. Either is where the code's commit is found.
    for directory in (Path.cwd(), Path(__file__).resolve().parent):
        commit = git_commit(directory)
        if commit:
            tags[GIT_COMMIT_TAG] = commit
            break
    return {k: v for k, v in tags.items() if v}


def log_params(params: dict[str, Any]) -> None:
    """Params on the active run, as text ('' for None)."""
    tracking.log_params(param_texts(params))


def log_evaluation(evaluation: Evaluation) -> None:
    """Metrics, classification report and confusion matrix on the active run."""
    run = tracking.active_run() or tracking.start_run()
    write_evaluation(run.client, run.run_id, evaluation)


def log_fitted_model(fitted, split: Split, run_id: str | None = None) -> str:
    """The model in MLmodel format, with its signature and an input example
    from the test set, on `run_id` (default: the active run). Returns its URI."""
    from mlcadence.tracking import models

    example = split.X_test.head(INPUT_EXAMPLE_ROWS)
    signature = models.infer_signature(example, fitted.predict(example))
    info = models.log_model(
        fitted, artifact_path="model", input_example=example, signature=signature, run_id=run_id
    )
    return info.model_uri


@task(name="log")
def log_run(fitted, split: Split, evaluation: Evaluation, params: dict[str, Any]) -> str:
    """Params, metrics, report, confusion matrix and the model on the active
    run. Returns the model URI."""
    log_params(params)
    log_evaluation(evaluation)
    return log_fitted_model(fitted, split)
