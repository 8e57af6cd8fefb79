"""Model registry half of the file backend, in MLflow's layout:

    <root>/models/<name>/meta.yaml          registered model
    <root>/models/<name>/tags/<key>         raw values
    <root>/models/<name>/aliases/<alias>    the version number as text
    <root>/models/<name>/version-<N>/meta.yaml, tags/<key>

A registered model and a version are built complete (meta.yaml, tags) in the
store's staging area and renamed into place (FileBackend._publish_entry), so
a process killed half-way leaves no half entry in models/. Version numbers
come from that rename: it refuses an existing `version-N`, so starting at one
above the highest existing directory (soft-deleted ones included) and
counting up, a number is taken by exactly one caller, in any process, and
never reused. A directory without meta.yaml (left by an older version) is
skipped by the readers; `mlcadence store check --repair` moves it away.
Read-modify-writes of several files (stage transitions with archiving, the
registered model's meta) hold the model's file lock.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Callable

from filelock import FileLock

from mlcadence.tracking import validation
from mlcadence.tracking.backends.atomic import list_files, read_text, read_values
from mlcadence.tracking.backends.file_yaml import dump_yaml, load_yaml
from mlcadence.tracking.conventions import now_ms
from mlcadence.tracking.entities import DELETED_STAGE, ModelVersion, RegisteredModel
from mlcadence.tracking.errors import AlreadyExists, InvalidInput, NotFound

VERSION_PREFIX = "version-"


def _version_numbers(model_dir: str) -> list[int]:
    numbers = []
    try:
        names = os.listdir(model_dir)
    except FileNotFoundError:
        return numbers
    for name in names:
        if name.startswith(VERSION_PREFIX) and name[len(VERSION_PREFIX) :].isdigit():
            numbers.append(int(name[len(VERSION_PREFIX) :]))
    return numbers


class FileRegistryMixin:
    """Registry methods of FileBackend; needs `self.root`, `self.models_dir`
    and its atomic `_replace`."""

    root: str
    models_dir: str
    _replace: Callable[..., None]
    _publish_entry: Callable[..., str | None]

    # ----------------------------------------------------------------- paths
    def _model_dir(self, name: str, must_exist: bool = True) -> str:
        validation.validate_model_name(name)
        path = os.path.join(self.models_dir, name)
        if must_exist and not os.path.isdir(path):
            raise NotFound(
                f"Registered Model with name={name} not found. `mlcadence models list` shows "
                f"the registered models; `mlcadence train --register-as {name}` registers one."
            )
        return path

    def _model_lock(self, model_dir: str) -> FileLock:
        return FileLock(os.path.join(model_dir, ".lock"))

    # ---------------------------------------------------------- model meta
    def _write_model_meta(self, model_dir: str, meta: dict) -> None:
        # MLflow writes the aliases into meta.yaml too (readers rebuild them
        # from aliases/), so keep the copy in step with the files.
        meta["aliases"] = {
            alias: str(version) for alias, version in sorted(self._aliases(model_dir).items())
        }
        self._replace(os.path.join(model_dir, "meta.yaml"), dump_yaml(meta))

    def _read_model_meta(self, model_dir: str) -> dict | None:
        text = read_text(os.path.join(model_dir, "meta.yaml"))
        return load_yaml(text) if text else None

    def _touch_model(self, model_dir: str, **changes) -> dict | None:
        """Update the registered model's meta (last_updated_timestamp and
        `changes`) under its lock; None when the meta is not written yet."""
        with self._model_lock(model_dir):
            meta = self._read_model_meta(model_dir)
            if meta is None:
                return None
            meta.update(changes)
            meta["last_updated_timestamp"] = now_ms()
            self._write_model_meta(model_dir, meta)
            return meta

    def _aliases(self, model_dir: str) -> dict[str, int]:
        aliases_dir = os.path.join(model_dir, "aliases")
        aliases = {}
        for alias in list_files(aliases_dir):
            text = read_text(os.path.join(aliases_dir, alias))
            if text and text.strip().isdigit():
                aliases[alias] = int(text.strip())
        return aliases

    # -------------------------------------------------------- registered models
    def create_registered_model(self, name, tags=None, description=None) -> RegisteredModel:
        tags = {validation.validate_key(k, "tag key"): v for k, v in (tags or {}).items()}
        model_dir = self._model_dir(name, must_exist=False)
        os.makedirs(self.models_dir, exist_ok=True)
        ts = now_ms()
        meta = {
            "creation_timestamp": ts,
            "deployment_job_id": None,
            "deployment_job_state": None,
            "description": description,
            "last_updated_timestamp": ts,
            "name": name,
            "workspace": "default",
            "aliases": {},  # MLflow's copy of aliases/ (see _write_model_meta)
        }
        if self._publish_entry([(name, model_dir, meta)], tags=tags) is None:
            raise AlreadyExists(
                f"Registered Model (name={name}) already exists. "
                "Use another name or add a version to it."
            )
        return self.get_registered_model(name)

    def _registered_model(self, model_dir: str, meta: dict) -> RegisteredModel:
        versions = self._versions(model_dir)
        latest: dict[str, ModelVersion] = {}
        for mv in versions:
            best = latest.get(mv.current_stage)
            if best is None or mv.version > best.version:
                latest[mv.current_stage] = mv
        return RegisteredModel(
            name=meta.get("name") or os.path.basename(model_dir),
            creation_timestamp=meta.get("creation_timestamp"),
            last_updated_timestamp=meta.get("last_updated_timestamp"),
            description=meta.get("description"),
            tags=read_values(os.path.join(model_dir, "tags")),
            aliases=self._aliases(model_dir),
            latest_versions=sorted(latest.values(), key=lambda mv: mv.version),
        )

    def get_registered_model(self, name) -> RegisteredModel:
        model_dir = self._model_dir(name)
        meta = self._read_model_meta(model_dir)
        if meta is None:
            raise NotFound(
                f"Registered Model with name={name} not found (it is still being created)."
            )
        return self._registered_model(model_dir, meta)

    def list_registered_models(self) -> list[RegisteredModel]:
        models = []
        try:
            names = sorted(os.listdir(self.models_dir))
        except FileNotFoundError:
            return models
        for name in names:
            model_dir = os.path.join(self.models_dir, name)
            if name.startswith(".") or not os.path.isdir(model_dir):
                continue
            meta = self._read_model_meta(model_dir)
            if meta is not None:
                models.append(self._registered_model(model_dir, meta))
        return models

    def update_registered_model(self, name, description) -> RegisteredModel:
        model_dir = self._model_dir(name)
        self._touch_model(model_dir, description=description)
        return self.get_registered_model(name)

    def rename_registered_model(self, name, new_name) -> RegisteredModel:
        model_dir = self._model_dir(name)
        target = self._model_dir(new_name, must_exist=False)
        if os.path.exists(target):
            raise AlreadyExists(
                f"Registered Model (name={new_name}) already exists. Choose another name."
            )
        os.rename(model_dir, target)
        # The name is also inside each meta.yaml (MLflow reads it from there).
        with self._model_lock(target):
            for number in _version_numbers(target):
                meta_path = os.path.join(self._version_dir(target, number), "meta.yaml")
                text = read_text(meta_path)
                meta = load_yaml(text) if text else None
                if meta:
                    meta["name"] = new_name
                    self._replace(meta_path, dump_yaml(meta))
        self._touch_model(target, name=new_name)
        return self.get_registered_model(new_name)

    def delete_registered_model(self, name) -> None:
        model_dir = self._model_dir(name)
        # Move it out of sight in one step, then remove it at leisure. The
        # name ends in ".trash" so MLflow does not take it for an experiment.
        graveyard = os.path.join(self.root, f".tmp-{uuid.uuid4().hex}.trash")
        try:
            os.rename(model_dir, graveyard)
        except FileNotFoundError:
            raise NotFound(f"Registered Model with name={name} not found") from None
        shutil.rmtree(graveyard, ignore_errors=True)

    def set_registered_model_tag(self, name, key, value) -> None:
        validation.validate_key(key, "tag key")  # a file name: see base.py
        model_dir = self._model_dir(name)
        self._replace(os.path.join(model_dir, "tags", key), value, tmp_dir=model_dir)
        self._touch_model(model_dir)

    def delete_registered_model_tag(self, name, key) -> None:
        validation.validate_key(key, "tag key")
        model_dir = self._model_dir(name)
        try:
            os.unlink(os.path.join(model_dir, "tags", key))
        except FileNotFoundError:
            raise NotFound(f"No tag with name: {key} on registered model {name}.") from None
        self._touch_model(model_dir)

    # ----------------------------------------------------------- versions
    def _version_dir(self, model_dir: str, version: int) -> str:
        return os.path.join(model_dir, f"{VERSION_PREFIX}{version}")

    def _read_version(self, model_dir: str, version: int, aliases: dict[str, int] | None = None):
        version_dir = self._version_dir(model_dir, version)
        text = read_text(os.path.join(version_dir, "meta.yaml"))
        meta = load_yaml(text) if text else None
        if meta is None:
            return None
        if aliases is None:
            aliases = self._aliases(model_dir)
        return ModelVersion(
            name=meta.get("name") or os.path.basename(model_dir),
            version=int(meta.get("version", version)),
            creation_timestamp=meta.get("creation_timestamp"),
            last_updated_timestamp=meta.get("last_updated_timestamp"),
            source=meta.get("source"),
            run_id=meta.get("run_id"),
            description=meta.get("description"),
            current_stage=meta.get("current_stage") or "None",
            status=meta.get("status") or "READY",
            user_id=meta.get("user_id"),
            tags=read_values(os.path.join(version_dir, "tags")),
            aliases=sorted(a for a, v in aliases.items() if v == version),
        )

    def _versions(self, model_dir: str, include_deleted: bool = False) -> list[ModelVersion]:
        aliases = self._aliases(model_dir)
        versions = []
        for number in sorted(_version_numbers(model_dir)):
            mv = self._read_version(model_dir, number, aliases)
            if mv is not None and (include_deleted or mv.current_stage != DELETED_STAGE):
                versions.append(mv)
        return versions

    def _live_version(self, name: str, version) -> tuple[str, ModelVersion]:
        number = validation.validate_version(version)
        model_dir = self._model_dir(name)
        mv = self._read_version(model_dir, number)
        if mv is None or mv.current_stage == DELETED_STAGE:
            raise NotFound(
                f"Model Version (name={name}, version={number}) not found. "
                f"`mlcadence models show {name}` lists its versions."
            )
        return model_dir, mv

    def _version_meta(self, mv: ModelVersion, storage_location: str | None) -> dict:
        return {
            "creation_timestamp": mv.creation_timestamp,
            "current_stage": mv.current_stage,
            "deployment_job_state": None,
            "description": mv.description,
            "last_updated_timestamp": mv.last_updated_timestamp,
            "model_id": None,
            "name": mv.name,
            "run_id": mv.run_id,
            "run_link": None,
            "source": mv.source,
            "status": mv.status,
            "status_message": None,
            "storage_location": storage_location,
            "user_id": mv.user_id,
            "version": mv.version,
            "workspace": "default",
        }

    def _rewrite_version(self, model_dir: str, version: int, **changes) -> ModelVersion:
        version_dir = self._version_dir(model_dir, version)
        meta_path = os.path.join(version_dir, "meta.yaml")
        with FileLock(os.path.join(version_dir, ".lock")):
            meta = load_yaml(read_text(meta_path) or "")
            if meta is None:
                raise NotFound(
                    f"Model Version (name={os.path.basename(model_dir)}, "
                    f"version={version}) not found"
                )
            meta.update(changes)
            meta["last_updated_timestamp"] = now_ms()
            self._replace(meta_path, dump_yaml(meta))
        return self._read_version(model_dir, version)

    def _storage_location(self, source: str) -> str:
        # A source naming another registered version stores where that one lives.
        if source.startswith("models:/"):
            parts = source[len("models:/") :].split("/")
            if len(parts) >= 2 and parts[1].isdigit():
                try:
                    model_dir = self._model_dir(parts[0])
                    text = read_text(
                        os.path.join(self._version_dir(model_dir, int(parts[1])), "meta.yaml")
                    )
                    meta = load_yaml(text) if text else None
                    if meta:
                        return meta.get("storage_location") or meta.get("source") or source
                except (NotFound, InvalidInput):
                    pass
        return source

    def create_model_version(
        self, name, source, run_id=None, tags=None, description=None
    ) -> ModelVersion:
        tags = {validation.validate_key(k, "tag key"): v for k, v in (tags or {}).items()}
        model_dir = self._model_dir(name, must_exist=False)
        if not os.path.isdir(model_dir):
            try:
                self.create_registered_model(name)
            except AlreadyExists:
                pass  # another caller created it a moment ago
        storage_location = self._storage_location(source)
        ts = now_ms()

        def candidate(number: int) -> tuple[str, str, dict]:
            mv = ModelVersion(
                name=name,
                version=number,
                creation_timestamp=ts,
                last_updated_timestamp=ts,
                source=source,
                run_id=run_id,
                description=description,
            )
            meta = self._version_meta(mv, storage_location)
            return number, self._version_dir(model_dir, number), meta

        first = max(_version_numbers(model_dir), default=0) + 1
        number = self._publish_entry(map(candidate, itertools.count(first)), tags=tags)
        self._touch_model(model_dir)
        return self._read_version(model_dir, number)

    def get_model_version(self, name, version) -> ModelVersion:
        return self._live_version(name, version)[1]

    def search_model_versions(self, name=None) -> list[ModelVersion]:
        if name is not None:
            model_dirs = (
                [self._model_dir(name)]
                if os.path.isdir(os.path.join(self.models_dir, name))
                else []
            )
        else:
            try:
                model_dirs = [
                    os.path.join(self.models_dir, n)
                    for n in os.listdir(self.models_dir)
                    if not n.startswith(".") and os.path.isdir(os.path.join(self.models_dir, n))
                ]
            except FileNotFoundError:
                model_dirs = []
        versions = [mv for d in model_dirs for mv in self._versions(d)]
        versions.sort(key=lambda mv: (-(mv.creation_timestamp or 0), mv.name, -mv.version))
        return versions

    def update_model_version(self, name, version, description) -> ModelVersion:
        model_dir, mv = self._live_version(name, version)
        updated = self._rewrite_version(model_dir, mv.version, description=description)
        self._touch_model(model_dir)
        return updated

    def delete_model_version(self, name, version) -> None:
        model_dir, mv = self._live_version(name, version)
        with self._model_lock(model_dir):
            for alias, target in self._aliases(model_dir).items():
                if target == mv.version:
                    try:
                        os.unlink(os.path.join(model_dir, "aliases", alias))
                    except FileNotFoundError:
                        pass
        self._rewrite_version(model_dir, mv.version, current_stage=DELETED_STAGE)
        self._touch_model(model_dir)

    def transition_model_version_stage(self, name, version, stage, archive_existing_versions=False):
        model_dir, mv = self._live_version(name, version)
        # One lock for the whole transition, so two concurrent promotions
        # to Production leave exactly one version there.
        with self._model_lock(model_dir):
            if archive_existing_versions:
                for other in self._versions(model_dir):
                    if other.version != mv.version and other.current_stage == stage:
                        self._rewrite_version(model_dir, other.version, current_stage="Archived")
            updated = self._rewrite_version(model_dir, mv.version, current_stage=stage)
        self._touch_model(model_dir)
        return updated

    def set_model_version_tag(self, name, version, key, value) -> None:
        validation.validate_key(key, "tag key")  # a file name: see base.py
        model_dir, mv = self._live_version(name, version)
        version_dir = self._version_dir(model_dir, mv.version)
        self._replace(os.path.join(version_dir, "tags", key), value, tmp_dir=version_dir)
        self._touch_model(model_dir)

    def delete_model_version_tag(self, name, version, key) -> None:
        validation.validate_key(key, "tag key")
        model_dir, mv = self._live_version(name, version)
        try:
            os.unlink(os.path.join(self._version_dir(model_dir, mv.version), "tags", key))
        except FileNotFoundError:
            raise NotFound(
                f"No tag with name: {key} on model version {name} v{mv.version}."
            ) from None
        self._touch_model(model_dir)

    # -------------------------------------------------------------- aliases
    def set_registered_model_alias(self, name, alias, version) -> None:
        validation.validate_alias(alias)
        model_dir, mv = self._live_version(name, version)
        self._replace(os.path.join(model_dir, "aliases", alias), str(mv.version), tmp_dir=model_dir)
        self._touch_model(model_dir)

    def delete_registered_model_alias(self, name, alias) -> None:
        validation.validate_alias(alias)
        model_dir = self._model_dir(name)
        try:
            os.unlink(os.path.join(model_dir, "aliases", alias))
        except FileNotFoundError:
            return  # MLflow treats deleting a missing alias as done
        self._touch_model(model_dir)

    def get_model_version_by_alias(self, name, alias) -> ModelVersion:
        model_dir = self._model_dir(name)
        if alias.lower() == "latest":
            versions = self._versions(model_dir)
            if not versions:
                raise NotFound(f"Registered model {name} has no versions; register one first.")
            return versions[-1]
        validation.validate_alias(alias)
        text = read_text(os.path.join(model_dir, "aliases", alias))
        if not text or not text.strip().isdigit():
            # MLflow answers INVALID_PARAMETER_VALUE (400) here, not 404.
            raise InvalidInput(
                f"Registered model alias {alias} not found. Set it with "
                f"`mlcadence models alias {name} {alias} VERSION`."
            )
        return self._live_version(name, int(text.strip()))[1]
