"""The one table of routes: HTTP method, path under `/mlflow`, handler and
the scope a token needs. Every row is served under `/api/2.0` and
`/ajax-api/2.0`, as MLflow's server does. Searches are POSTs that only read,
hence the explicit scope column."""

from __future__ import annotations

from typing import NamedTuple

from mlcadence.tracking.server import experiments, logged_models, registry, run_artifacts, runs
from mlcadence.tracking.server.auth import READ, WRITE

PREFIXES = ("/api/2.0", "/ajax-api/2.0")


class JsonRoute(NamedTuple):
    method: str
    path: str
    handler: object
    scope: str


ROUTES: tuple[JsonRoute, ...] = tuple(
    JsonRoute(*row)
    for row in (
        # experiments
        ("POST", "/mlflow/experiments/create", experiments.create, WRITE),
        ("GET", "/mlflow/experiments/get", experiments.get, READ),
        ("GET", "/mlflow/experiments/get-by-name", experiments.get_by_name, READ),
        ("POST", "/mlflow/experiments/search", experiments.search, READ),
        ("GET", "/mlflow/experiments/search", experiments.search, READ),
        ("POST", "/mlflow/experiments/update", experiments.update, WRITE),
        ("POST", "/mlflow/experiments/delete", experiments.delete, WRITE),
        ("POST", "/mlflow/experiments/restore", experiments.restore, WRITE),
        ("POST", "/mlflow/experiments/set-experiment-tag", experiments.set_tag, WRITE),
        # runs
        ("POST", "/mlflow/runs/create", runs.create, WRITE),
        ("GET", "/mlflow/runs/get", runs.get, READ),
        ("POST", "/mlflow/runs/update", runs.update, WRITE),
        ("POST", "/mlflow/runs/delete", runs.delete, WRITE),
        ("POST", "/mlflow/runs/restore", runs.restore, WRITE),
        ("POST", "/mlflow/runs/search", runs.search, READ),
        ("POST", "/mlflow/runs/log-metric", runs.log_metric, WRITE),
        ("POST", "/mlflow/runs/log-parameter", runs.log_param, WRITE),
        ("POST", "/mlflow/runs/set-tag", runs.set_tag, WRITE),
        ("POST", "/mlflow/runs/delete-tag", runs.delete_tag, WRITE),
        ("POST", "/mlflow/runs/log-batch", runs.log_batch, WRITE),
        ("POST", "/mlflow/runs/log-inputs", runs.log_inputs, WRITE),
        ("POST", "/mlflow/runs/outputs", runs.log_outputs, WRITE),
        ("GET", "/mlflow/metrics/get-history", runs.get_metric_history, READ),
        ("GET", "/mlflow/artifacts/list", run_artifacts.list_artifacts, READ),
        (
            "GET",
            "/mlflow/metrics/get-history-bulk-interval",
            runs.get_metric_history_bulk_interval,
            READ,
        ),
        # registered models
        ("POST", "/mlflow/registered-models/create", registry.create_model, WRITE),
        ("GET", "/mlflow/registered-models/get", registry.get_model, READ),
        ("GET", "/mlflow/registered-models/search", registry.search_models, READ),
        ("POST", "/mlflow/registered-models/rename", registry.rename_model, WRITE),
        ("PATCH", "/mlflow/registered-models/update", registry.update_model, WRITE),
        ("DELETE", "/mlflow/registered-models/delete", registry.delete_model, WRITE),
        ("POST", "/mlflow/registered-models/set-tag", registry.set_model_tag, WRITE),
        ("DELETE", "/mlflow/registered-models/delete-tag", registry.delete_model_tag, WRITE),
        ("POST", "/mlflow/registered-models/alias", registry.set_alias, WRITE),
        ("DELETE", "/mlflow/registered-models/alias", registry.delete_alias, WRITE),
        ("GET", "/mlflow/registered-models/alias", registry.get_by_alias, READ),
        (
            "POST",
            "/mlflow/registered-models/get-latest-versions",
            registry.get_latest_versions,
            READ,
        ),
        (
            "GET",
            "/mlflow/registered-models/get-latest-versions",
            registry.get_latest_versions,
            READ,
        ),
        # model versions
        ("POST", "/mlflow/model-versions/create", registry.create_version, WRITE),
        ("GET", "/mlflow/model-versions/get", registry.get_version, READ),
        ("GET", "/mlflow/model-versions/search", registry.search_versions, READ),
        ("PATCH", "/mlflow/model-versions/update", registry.update_version, WRITE),
        ("POST", "/mlflow/model-versions/transition-stage", registry.transition_stage, WRITE),
        ("DELETE", "/mlflow/model-versions/delete", registry.delete_version, WRITE),
        ("POST", "/mlflow/model-versions/set-tag", registry.set_version_tag, WRITE),
        ("DELETE", "/mlflow/model-versions/delete-tag", registry.delete_version_tag, WRITE),
        ("GET", "/mlflow/model-versions/get-download-uri", registry.get_download_uri, READ),
        # logged models (MLflow 3)
        ("POST", "/mlflow/logged-models", logged_models.create, WRITE),
        ("POST", "/mlflow/logged-models/search", logged_models.search, READ),
        ("GET", "/mlflow/logged-models/{model_id}", logged_models.get, READ),
        ("PATCH", "/mlflow/logged-models/{model_id}", logged_models.finalize, WRITE),
        ("DELETE", "/mlflow/logged-models/{model_id}", logged_models.delete, WRITE),
        ("PATCH", "/mlflow/logged-models/{model_id}/tags", logged_models.set_tags, WRITE),
        (
            "DELETE",
            "/mlflow/logged-models/{model_id}/tags/{tag_key:path}",
            logged_models.delete_tag,
            WRITE,
        ),
        ("POST", "/mlflow/logged-models/{model_id}/params", logged_models.log_params, WRITE),
    )
)
