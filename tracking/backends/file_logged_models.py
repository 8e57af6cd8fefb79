"""MLflow 3 logged models in the file store, in MLflow's own layout
(mlflow-formats.md §1.8), so `mlflow` reading the store sees them:

    <root>/<exp_id>/models/<model_id>/meta.yaml   status as MLflow's integer
    <root>/<exp_id>/models/<model_id>/{tags,params}/<key>, metrics/, artifacts/

A model is built complete in the staging area and renamed into place, like a
run; tag and meta rewrites go through a temp file and os.replace.
"""

from __future__ import annotations

import os
import uuid

from mlcadence.tracking import entities, validation
from mlcadence.tracking.backends.atomic import read_text, read_values
from mlcadence.tracking.backends.file_yaml import dump_yaml, load_yaml
from mlcadence.tracking.conventions import VIEW_ALL, now_ms
from mlcadence.tracking.entities import ACTIVE, DELETED, LOGGED_MODEL_STATUSES
from mlcadence.tracking.errors import InvalidState, NotFound

MODELS = "models"
META = "meta.yaml"
_STATUS_NAMES = {number: name for name, number in LOGGED_MODEL_STATUSES.items()}


def new_model_id() -> str:
    return f"m-{uuid.uuid4().hex}"


class FileLoggedModelMixin:
    """LoggedModelStore for FileBackend (uses its staging and lock helpers)."""

    def _logged_model_dir(self, model_id: str) -> str:
        validation.validate_run_id(model_id)  # the same character rules as a run id
        for _, exp_dir in self._experiment_dirs(VIEW_ALL):
            path = os.path.join(exp_dir, MODELS, model_id)
            if os.path.isfile(os.path.join(path, META)):
                return path
        raise NotFound(f"Logged model with ID '{model_id}' not found. Check the model id.")

    def _read_logged_model(self, model_dir: str) -> entities.LoggedModel | None:
        text = read_text(os.path.join(model_dir, META))
        meta = load_yaml(text) if text else None
        if not meta:
            return None
        return entities.LoggedModel(
            model_id=meta["model_id"],
            experiment_id=str(meta["experiment_id"]),
            name=meta.get("name") or "",
            artifact_location=meta.get("artifact_location") or "",
            creation_timestamp=meta.get("creation_timestamp") or 0,
            last_updated_timestamp=meta.get("last_updated_timestamp") or 0,
            status=_STATUS_NAMES.get(meta.get("status") or 0, "LOGGED_MODEL_STATUS_UNSPECIFIED"),
            status_message=meta.get("status_message"),
            model_type=meta.get("model_type"),
            source_run_id=meta.get("source_run_id"),
            # MLflow's finalize rewrite drops the key: missing means active.
            lifecycle_stage=meta.get("lifecycle_stage") or ACTIVE,
            tags=read_values(os.path.join(model_dir, "tags")),
            params=read_values(os.path.join(model_dir, "params")),
        )

    def create_logged_model(
        self, experiment_id, name, source_run_id=None, tags=None, params=None, model_type=None
    ) -> entities.LoggedModel:
        experiment_id = str(experiment_id)
        exp = self.get_experiment(experiment_id)
        if exp.lifecycle_stage != ACTIVE:
            raise InvalidState(
                f"Cannot create a logged model in experiment {experiment_id}: it is deleted. "
                "Restore it or use another experiment."
            )
        for key in list(tags or ()) + list(params or ()):
            validation.validate_key(key, "logged model tag or param key")  # file names
        model_id = new_model_id()
        ts = now_ms()
        location = f"{exp.artifact_location.rstrip('/')}/{MODELS}/{model_id}/artifacts"
        meta = {
            "artifact_location": location,
            "creation_timestamp": ts,
            "experiment_id": experiment_id,
            "last_updated_timestamp": ts,
            "lifecycle_stage": ACTIVE,
            "model_id": model_id,
            "model_type": model_type,
            "name": name,
            "source_run_id": source_run_id,
            "status": LOGGED_MODEL_STATUSES["LOGGED_MODEL_PENDING"],
            "status_message": None,
        }
        exp_dir = self._find_experiment_dir(experiment_id)
        target = os.path.join(exp_dir, MODELS, model_id)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        self._publish_entry(
            [(model_id, target, meta)],
            tags=dict(tags or {}),
            subdirs=("metrics", "params", "tags", "artifacts"),
        )
        for key, value in (params or {}).items():
            self._create_once(os.path.join(target, "params", key), value, tmp_dir=target)
        return self._read_logged_model(target)

    def get_logged_model(self, model_id, allow_deleted=False) -> entities.LoggedModel:
        model = self._read_logged_model(self._logged_model_dir(model_id))
        if model is None or (model.lifecycle_stage != ACTIVE and not allow_deleted):
            raise NotFound(f"Logged model with ID '{model_id}' not found.")
        return model

    def _rewrite_logged_model(self, model_id: str, **changes) -> entities.LoggedModel:
        model_dir = self._logged_model_dir(model_id)
        with self._lock_for(model_dir):
            text = read_text(os.path.join(model_dir, META))
            meta = load_yaml(text) if text else None
            if not meta:
                raise NotFound(f"Logged model with ID '{model_id}' not found.")
            meta.update(changes)
            meta["last_updated_timestamp"] = now_ms()
            self._replace(os.path.join(model_dir, META), dump_yaml(meta), tmp_dir=model_dir)
        return self._read_logged_model(model_dir)

    def finalize_logged_model(self, model_id, status) -> entities.LoggedModel:
        return self._rewrite_logged_model(model_id, status=LOGGED_MODEL_STATUSES[status])

    def set_logged_model_tags(self, model_id, tags) -> None:
        model_dir = self._logged_model_dir(model_id)
        for key, value in tags.items():
            validation.validate_key(key, "logged model tag key")
            self._replace(os.path.join(model_dir, "tags", key), value, tmp_dir=model_dir)

    def delete_logged_model_tag(self, model_id, key) -> None:
        validation.validate_key(key, "logged model tag key")
        try:
            os.unlink(os.path.join(self._logged_model_dir(model_id), "tags", key))
        except FileNotFoundError:
            raise NotFound(f"No tag with key '{key}' on logged model '{model_id}'.") from None

    def log_logged_model_params(self, model_id, params) -> None:
        model_dir = self._logged_model_dir(model_id)
        for key, value in params.items():
            validation.validate_key(key, "logged model param key")
            self._create_once(os.path.join(model_dir, "params", key), value, tmp_dir=model_dir)

    def delete_logged_model(self, model_id) -> None:
        self._rewrite_logged_model(model_id, lifecycle_stage=DELETED)

    def list_logged_models(self, experiment_ids) -> list[entities.LoggedModel]:
        found = []
        for experiment_id in dict.fromkeys(str(x) for x in experiment_ids):
            try:
                models_dir = os.path.join(self._find_experiment_dir(experiment_id), MODELS)
            except NotFound:
                continue
            try:
                names = [e.name for e in os.scandir(models_dir) if e.is_dir()]
            except FileNotFoundError:
                continue
            for name in names:
                model = self._read_logged_model(os.path.join(models_dir, name))
                if model is not None and model.lifecycle_stage == ACTIVE:
                    found.append(model)
        found.sort(key=lambda m: (-m.creation_timestamp, m.model_id))
        return found
