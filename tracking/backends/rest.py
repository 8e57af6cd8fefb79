"""The `http(s)://` backend: a tracking server (ours, or `mlflow server`)
through MLflow's REST API, as both stores.

Request and response shapes are those of MLflow's `service.proto` and
`model_registry.proto`; `rest_convert` maps them onto our entities and
`rest_http` carries them (pooling, auth, retries, errors). The server
validates and stores; this class only translates, plus the one safety net
every store keeps (keys that could name another path are refused before a
request is sent). Listings that MLflow pages are read to the end here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from urllib.parse import quote

from mlcadence.tracking import entities as e
from mlcadence.tracking.backends import rest_convert as convert
from mlcadence.tracking.backends.base import TrackingBackend
from mlcadence.tracking.backends.rest_http import HttpSession, RetryPolicy
from mlcadence.tracking.conventions import VIEW_ACTIVE
from mlcadence.tracking.errors import AlreadyExists, InvalidInput, NotFound
from mlcadence.tracking.validation import validate_key

# Page sizes: MLflow's limits are larger, these keep each response small.
RUNS_PAGE = 5000
LISTING_PAGE = 1000


def _checked_keys(keys: Sequence[str], what: str) -> None:
    for key in keys:
        validate_key(key, what)


def _filter_value(value: str) -> str:
    """A string literal for MLflow's search filters."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise InvalidInput(
        f"Name {value!r} holds both quote characters, which a tracking server's search filter "
        "cannot express; rename it."
    )


class RestBackend(TrackingBackend):
    """Runs and the registry on the tracking server at `uri`."""

    def __init__(
        self,
        uri: str,
        *,
        token: str | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 120.0,
    ):
        self.uri = uri
        self.http = HttpSession(uri, token=token, retry=retry, timeout=timeout)

    def __repr__(self) -> str:
        return f"RestBackend({self.http.base_url!r})"

    def close(self) -> None:
        self.http.close()

    def _pages(self, method: str, endpoint: str, body: dict, field: str) -> Iterator[dict]:
        """Every item of a paged listing."""
        token = None
        while True:
            page = self.http.call(method, endpoint, {**body, "page_token": token})
            yield from page.get(field) or ()
            token = page.get("next_page_token")
            if not token:
                return

    # -- experiments ---------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        body = {
            "name": name,
            "artifact_location": artifact_location,
            "tags": convert.tag_list(tags),
        }
        return str(
            self.http.call("POST", "experiments/create", body, creates=True)["experiment_id"]
        )

    def get_experiment(self, experiment_id: str) -> e.Experiment:
        doc = self.http.call("GET", "experiments/get", {"experiment_id": experiment_id})
        return convert.experiment(doc["experiment"])

    def get_experiment_by_name(self, name: str) -> e.Experiment | None:
        try:
            doc = self.http.call("GET", "experiments/get-by-name", {"experiment_name": name})
        except NotFound:
            return None
        return convert.experiment(doc["experiment"])

    def list_experiments(self, view: str = VIEW_ACTIVE) -> list[e.Experiment]:
        body = {"view_type": convert.VIEW_TYPES[view], "max_results": LISTING_PAGE}
        return [
            convert.experiment(doc)
            for doc in self._pages("POST", "experiments/search", body, "experiments")
        ]

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        body = {"experiment_id": experiment_id, "new_name": new_name}
        self.http.call("POST", "experiments/update", body)

    def delete_experiment(self, experiment_id: str) -> None:
        self.http.call("POST", "experiments/delete", {"experiment_id": experiment_id})

    def restore_experiment(self, experiment_id: str) -> None:
        self.http.call("POST", "experiments/restore", {"experiment_id": experiment_id})

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        body = {"experiment_id": experiment_id, "key": key, "value": value}
        self.http.call("POST", "experiments/set-experiment-tag", body)

    # -- runs ----------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        run_name: str,
        tags: Sequence[e.RunTag] = (),
    ) -> e.Run:
        body = {
            "experiment_id": experiment_id,
            "user_id": user_id,
            "start_time": start_time,
            "run_name": run_name,
            "tags": convert.tag_list(tags),
        }
        return convert.run(self.http.call("POST", "runs/create", body, creates=True)["run"])

    def get_run(self, run_id: str) -> e.Run:
        return convert.run(self.http.call("GET", "runs/get", {"run_id": run_id})["run"])

    def update_run(
        self,
        run_id: str,
        status: e.RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> e.RunInfo:
        body: dict = {"run_id": run_id}
        if status is not None:
            body["status"] = status.name
        if end_time is not None:
            body["end_time"] = end_time
        if run_name is not None:
            body["run_name"] = run_name
        return convert.run_info(self.http.call("POST", "runs/update", body)["run_info"])

    def delete_run(self, run_id: str) -> None:
        self.http.call("POST", "runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self.http.call("POST", "runs/restore", {"run_id": run_id})

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[e.Metric] = (),
        params: Sequence[e.Param] = (),
        tags: Sequence[e.RunTag] = (),
    ) -> None:
        _checked_keys([m.key for m in metrics], "metric key")
        _checked_keys([p.key for p in params], "param key")
        _checked_keys([t.key for t in tags], "tag key")
        body = {
            "run_id": run_id,
            "metrics": [convert.metric_json(m) for m in metrics],
            "params": [convert.param_json(p) for p in params],
            "tags": convert.tag_list(tags),
        }
        self.http.call("POST", "runs/log-batch", body)

    def log_metric(self, run_id: str, metric: e.Metric) -> None:
        validate_key(metric.key, "metric key")
        self.http.call("POST", "runs/log-metric", {"run_id": run_id, **convert.metric_json(metric)})

    def log_param(self, run_id: str, param: e.Param) -> None:
        validate_key(param.key, "param key")
        self.http.call(
            "POST", "runs/log-parameter", {"run_id": run_id, **convert.param_json(param)}
        )

    def set_tag(self, run_id: str, tag: e.RunTag) -> None:
        validate_key(tag.key, "tag key")
        body = {"run_id": run_id, "key": tag.key, "value": tag.value}
        self.http.call("POST", "runs/set-tag", body)

    def delete_tag(self, run_id: str, key: str) -> None:
        self.http.call("POST", "runs/delete-tag", {"run_id": run_id, "key": key})

    def get_metric_history(self, run_id: str, key: str) -> list[e.Metric]:
        body = {"run_id": run_id, "metric_key": key}
        return [
            convert.metric(doc)
            for doc in self._pages("GET", "metrics/get-history", body, "metrics")
        ]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view: str = VIEW_ACTIVE,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
    ) -> list[e.Run]:
        found: list[e.Run] = []
        token = None
        while len(found) < max_results:
            body = {
                "experiment_ids": list(experiment_ids),
                "filter": filter_string,
                "run_view_type": convert.VIEW_TYPES[view],
                "max_results": min(max_results - len(found), RUNS_PAGE),
                "order_by": list(order_by),
                "page_token": token,
            }
            page = self.http.call("POST", "runs/search", body)
            found.extend(convert.run(doc) for doc in page.get("runs") or ())
            token = page.get("next_page_token")
            if not token:
                break
        return found[:max_results]

    # -- MLflow 3 logged models (read only: what resolving models:/m-<id> needs) --------
    def get_logged_model(self, model_id: str) -> e.LoggedModel:
        doc = self.http.call("GET", f"logged-models/{quote(model_id, safe='')}")
        return convert.logged_model(doc["model"])

    # -- registered models ------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> e.RegisteredModel:
        body = {"name": name, "tags": convert.tag_list(tags), "description": description}
        doc = self.http.call("POST", "registered-models/create", body)
        return convert.registered_model(doc["registered_model"])

    def get_registered_model(self, name: str) -> e.RegisteredModel:
        doc = self.http.call("GET", "registered-models/get", {"name": name})
        return convert.registered_model(doc["registered_model"])

    def list_registered_models(self) -> list[e.RegisteredModel]:
        body = {"max_results": LISTING_PAGE}
        pages = self._pages("GET", "registered-models/search", body, "registered_models")
        return [convert.registered_model(doc) for doc in pages]

    def rename_registered_model(self, name: str, new_name: str) -> e.RegisteredModel:
        body = {"name": name, "new_name": new_name}
        doc = self.http.call("POST", "registered-models/rename", body)
        return convert.registered_model(doc["registered_model"])

    def update_registered_model(self, name: str, description: str) -> e.RegisteredModel:
        body = {"name": name, "description": description}
        doc = self.http.call("PATCH", "registered-models/update", body)
        return convert.registered_model(doc["registered_model"])

    def delete_registered_model(self, name: str) -> None:
        self.http.call("DELETE", "registered-models/delete", {"name": name})

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        body = {"name": name, "key": key, "value": value}
        self.http.call("POST", "registered-models/set-tag", body)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.http.call("DELETE", "registered-models/delete-tag", {"name": name, "key": key})

    # -- model versions ----------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
    ) -> e.ModelVersion:
        body = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "tags": convert.tag_list(tags),
            "description": description,
        }
        try:
            doc = self.http.call("POST", "model-versions/create", body, creates=True)
        except NotFound:
            # MLflow's API needs the registered model first; our interface creates it.
            try:
                self.create_registered_model(name)
            except AlreadyExists:
                pass  # another client created it meanwhile
            doc = self.http.call("POST", "model-versions/create", body, creates=True)
        return convert.model_version(doc["model_version"])

    def get_model_version(self, name: str, version: int) -> e.ModelVersion:
        doc = self.http.call("GET", "model-versions/get", {"name": name, "version": str(version)})
        return convert.model_version(doc["model_version"])

    def search_model_versions(self, name: str | None = None) -> list[e.ModelVersion]:
        body = {"max_results": LISTING_PAGE}
        if name is not None:
            body["filter"] = f"name = {_filter_value(name)}"
        versions = [
            convert.model_version(doc)
            for doc in self._pages("GET", "model-versions/search", body, "model_versions")
        ]
        versions.sort(key=lambda mv: (-mv.creation_timestamp, mv.name, -mv.version))
        return versions

    def update_model_version(self, name: str, version: int, description: str) -> e.ModelVersion:
        body = {"name": name, "version": str(version), "description": description}
        doc = self.http.call("PATCH", "model-versions/update", body)
        return convert.model_version(doc["model_version"])

    def delete_model_version(self, name: str, version: int) -> None:
        self.http.call("DELETE", "model-versions/delete", {"name": name, "version": str(version)})

    def transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool = False
    ) -> e.ModelVersion:
        body = {
            "name": name,
            "version": str(version),
            "stage": stage,
            "archive_existing_versions": archive_existing_versions,
        }
        doc = self.http.call("POST", "model-versions/transition-stage", body)
        return convert.model_version(doc["model_version"])

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        body = {"name": name, "version": str(version), "key": key, "value": value}
        self.http.call("POST", "model-versions/set-tag", body)

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        body = {"name": name, "version": str(version), "key": key}
        self.http.call("DELETE", "model-versions/delete-tag", body)

    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None:
        body = {"name": name, "alias": alias, "version": str(version)}
        self.http.call("POST", "registered-models/alias", body)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.http.call("DELETE", "registered-models/alias", {"name": name, "alias": alias})

    def get_model_version_by_alias(self, name: str, alias: str) -> e.ModelVersion:
        doc = self.http.call("GET", "registered-models/alias", {"name": name, "alias": alias})
        return convert.model_version(doc["model_version"])
