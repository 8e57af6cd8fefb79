"""Tracking: runs, params, metrics, tags, artifacts and the model registry.

MLflow-like module-level API (an active run per thread/context) plus an
explicit `Client`. Where the data lives is chosen by the tracking URI:
a plain path or file:// (MLflow's file-store layout), sqlite:///... or
postgresql://... . Importing this package never imports SQLAlchemy.
"""

from mlcadence.tracking.artifacts import FileInfo
from mlcadence.tracking.client import Client
from mlcadence.tracking.entities import (
    Experiment,
    Metric,
    ModelVersion,
    Param,
    RegisteredModel,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)
from mlcadence.tracking.errors import (
    AlreadyExists,
    CorruptStore,
    InvalidInput,
    InvalidState,
    ModelIntegrityError,
    NotFound,
    TrackingError,
)
from mlcadence.tracking.fluent import (
    ActiveRun,
    active_run,
    end_run,
    get_artifact_uri,
    get_experiment_by_name,
    get_metric_history,
    get_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    run_env,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    start_run,
)
from mlcadence.tracking.tracking_uri import get_tracking_uri, set_tracking_uri

__all__ = [
    "ActiveRun",
    "AlreadyExists",
    "Client",
    "CorruptStore",
    "Experiment",
    "FileInfo",
    "InvalidInput",
    "InvalidState",
    "Metric",
    "ModelIntegrityError",
    "ModelVersion",
    "NotFound",
    "Param",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "TrackingError",
    "active_run",
    "end_run",
    "get_artifact_uri",
    "get_experiment_by_name",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "run_env",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
