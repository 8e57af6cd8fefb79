"""File backend: MLflow's FileStore layout, safe for concurrent writers.

Layout (see ../shared/reference/mlflow-formats.md §1 and §6), so that
`mlflow` itself can open a store we wrote and the other way round:

    <root>/.trash/<exp_id>/...          deleted experiments, moved whole
    <root>/<exp_id>/meta.yaml           experiment; tags/<key>
    <root>/<exp_id>/<run_id>/meta.yaml  run; metrics/<key> ("ts value step" lines),
                                        params/<key>, tags/<key>, artifacts/
    <root>/models/<name>/...            registry (tracking.backends.file_registry)
    <root>/.mlc-staging.trash/...       entries being built (ours; MLflow skips
                                        any root folder ending in ".trash")

Concurrency rules (tracking.backends.atomic): rewrites go through a temp file
and os.replace, params are created with os.link (exactly one writer wins),
metric lines are single O_APPEND writes (under the run's lock, which keeps
an exact duplicate record from being written twice), and a read-modify-write
of one meta.yaml holds a file lock. A new experiment, run, registered model or model
version is built complete in the staging area and renamed into place, so a
process killed half-way (kill -9) leaves no half entry where MLflow or we
look; readers still skip a directory without meta.yaml (written by an older
version or by hand) and a trailing partial metric line.

Speed: the hot logging path checks the run with one `stat` of its meta.yaml
against an in-process cache, and search reads only the files the filter and
order need, loading full data for the runs it returns.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator
from urllib.parse import unquote, urlparse

from filelock import FileLock

from mlcadence.tracking import entities, validation
from mlcadence.tracking import search as run_search
from mlcadence.tracking.backends.atomic import (
    append_bytes,
    create_file_once,
    list_files,
    new_staging_dir,
    publish_dir,
    read_text,
    read_values,
    replace_file,
)
from mlcadence.tracking.backends.base import LoggedModelStore, TrackingBackend
from mlcadence.tracking.backends.file_logged_models import FileLoggedModelMixin
from mlcadence.tracking.backends.file_metric_lines import MetricLineIndex
from mlcadence.tracking.backends.file_read_cache import FileReadCache, as_text
from mlcadence.tracking.backends.file_registry import FileRegistryMixin
from mlcadence.tracking.backends.file_yaml import dump_yaml, load_yaml
from mlcadence.tracking.conventions import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    RUN_NAME_TAG,
    VIEW_ACTIVE,
    VIEW_ALL,
    VIEW_DELETED,
    location_uri,
    now_ms,
    path_to_file_uri,
)
from mlcadence.tracking.entities import ACTIVE, DELETED
from mlcadence.tracking.errors import (
    AlreadyExists,
    CorruptStore,
    InvalidInput,
    InvalidState,
    NotFound,
)

TRASH = ".trash"
# Entries are built here, then renamed into place. The ".trash" ending makes
# MLflow's experiment listing skip it (as it skips "<root>/.trash").
STAGING = ".mlc-staging" + TRASH
META = "meta.yaml"
METRICS, PARAMS, TAGS, ARTIFACTS = "metrics", "params", "tags", "artifacts"
MODELS = "models"
# Sub-folders of an experiment that are not runs (MLflow's RESERVED_EXPERIMENT_FOLDERS).
RESERVED_EXPERIMENT_FOLDERS = frozenset({"tags", "datasets", "traces", "models"})
EXPERIMENT_ID_WIDTH = 18

# Run meta fields MLflow keeps for old readers; always these values.
_LEGACY_RUN_FIELDS = {
    "entry_point_name": "",
    "source_name": "",
    "source_type": 4,  # SourceType.LOCAL
    "source_version": "",
    "tags": [],
}


def root_from_uri(uri: str) -> str:
    """Absolute root for a plain path, `file:///abs` or `file:relative`."""
    text = str(uri)
    if text.startswith("file:"):
        parsed = urlparse(text)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(
                f"File store URI '{uri}' names host '{parsed.netloc}'; use file:///absolute/path "
                "or a plain path."
            )
        text = unquote(parsed.path)
    if not text:
        raise InvalidInput("Empty file store path; use a directory such as ./mlruns.")
    return os.path.abspath(os.path.expanduser(text))


def random_experiment_id() -> str:
    # MLflow's scheme: 18 random decimal digits with no leading zero.
    digits = str(uuid.uuid4().int)[-EXPERIMENT_ID_WIDTH:]
    return str(random.randint(1, 9)) + digits[1:] if digits[0] == "0" else digits


def metric_line(metric: entities.Metric) -> str:
    return f"{metric.timestamp} {float(metric.value)!r} {metric.step}\n"


def parse_metric_lines(text: str, key: str) -> list[entities.Metric]:
    """Complete lines only: a trailing line without its newline is still being
    written by someone and is skipped."""
    lines = text.split("\n")
    lines.pop()  # "" after the last newline, or the incomplete tail
    metrics = []
    for line in lines:
        if not line:
            continue
        fields = line.split(" ")
        if len(fields) not in (2, 3, 5):
            raise CorruptStore(
                f"Metric '{key}' is malformed; persisted metric data contained {len(fields)} "
                "fields. Expected 2, 3, or 5 fields. Fix or remove the line in the metric file."
            )
        try:
            metrics.append(
                entities.Metric(
                    key, float(fields[1]), int(fields[0]), int(fields[2]) if len(fields) > 2 else 0
                )
            )
        except ValueError:
            raise CorruptStore(
                f"Metric '{key}' has an unreadable line {line!r}; fix or remove it."
            ) from None
    return metrics


def latest_metric_value(metrics: list[entities.Metric]) -> float:
    return max(metrics, key=lambda m: (m.step, m.timestamp, m.value)).value


def parse_latest_metric(text: str, key: str) -> float | None:
    history = parse_metric_lines(text, key)
    return latest_metric_value(history) if history else None


class FileBackend(FileRegistryMixin, FileLoggedModelMixin, TrackingBackend, LoggedModelStore):
    def __init__(self, uri: str, fsync: bool = False, artifact_root: str | None = None):
        """`fsync`: make every rewrite durable before it becomes visible
        (slower; MLflow's file store does not). `artifact_root`: the URI new
        experiments' artifact folders go under (default: the store itself)."""
        self.uri = str(uri)
        self.fsync = fsync
        self.root = root_from_uri(uri)
        self.root_uri = path_to_file_uri(self.root)
        self.artifact_root = (
            location_uri(artifact_root).rstrip("/") if artifact_root else self.root_uri
        )
        self.trash = os.path.join(self.root, TRASH)
        self.staging = os.path.join(self.root, STAGING)
        self.models_dir = os.path.join(self.root, MODELS)
        # run_id -> (run dir, meta.yaml path, (ino, size, mtime_ns) of it, RunInfo)
        self._runs: dict[str, tuple[str, str, tuple, entities.RunInfo]] = {}
        # Metric keys already validated; the hot path skips re-checking them.
        self._valid_metric_keys: set[str] = set()
        self._metric_lines = MetricLineIndex()
        # What search and run loads read, checked by a stat per file (file_read_cache).
        self._files = FileReadCache()
        self._lock = threading.Lock()
        self._init_root()

    # ------------------------------------------------------------------ setup
    def _init_root(self) -> None:
        is_new = not os.path.exists(self.root)
        if not is_new and not os.path.isdir(self.root):
            raise InvalidInput(
                f"Tracking store path '{self.root}' is a file; point the URI at a directory."
            )
        os.makedirs(self.root, exist_ok=True)
        # MLflow creates experiment 0 only for a new root; an empty existing
        # directory is treated as new too, so `mkdir mlruns` works as expected.
        if is_new or not os.listdir(self.root):
            os.makedirs(self.trash, exist_ok=True)
            self._create_default_experiment()
        try:
            os.makedirs(self.trash, exist_ok=True)
        except OSError:
            pass  # a read-only store (e.g. mounted into a server) is still readable

    def _create_default_experiment(self) -> None:
        meta = self._experiment_meta(DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, None, now_ms())
        target = os.path.join(self.root, DEFAULT_EXPERIMENT_ID)
        # Losing the race to another process creating it is fine.
        self._publish_entry([(DEFAULT_EXPERIMENT_ID, target, meta)])

    def _experiment_meta(self, exp_id: str, name: str, location: str | None, ts: int) -> dict:
        return {
            "artifact_location": location or f"{self.artifact_root}/{exp_id}",
            "creation_time": ts,
            "effective_trace_archival_retention": None,
            "experiment_id": exp_id,
            "last_update_time": ts,
            "lifecycle_stage": ACTIVE,
            "name": name,
            "trace_location": None,
            "workspace": "default",
        }

    def _replace(self, path: str, data: bytes | str, tmp_dir: str | None = None) -> None:
        replace_file(path, data, tmp_dir, fsync=self.fsync)

    def _create_once(self, path: str, data: bytes | str, tmp_dir: str | None = None) -> bool:
        return create_file_once(path, data, tmp_dir, fsync=self.fsync)

    def _publish_entry(
        self,
        candidates: Iterable[tuple[str, str, dict]],
        tags: dict[str, str] | None = None,
        subdirs: tuple[str, ...] = (),
    ):
        """Build an entry (its `subdirs`, `tags` and meta.yaml) in the staging
        area, then publish it at the first free target among `candidates`
        ((key, target dir, meta) tuples; the meta names the key, so it is
        rewritten per candidate). Returns the key published, None if every
        target was taken."""
        staged = new_staging_dir(self.staging)
        published = False
        try:
            for sub in subdirs:
                os.mkdir(os.path.join(staged, sub))
            for key, value in (tags or {}).items():
                self._replace(os.path.join(staged, TAGS, key), value, tmp_dir=staged)
            for key, target, meta in candidates:
                self._replace(os.path.join(staged, META), dump_yaml(meta))
                if publish_dir(staged, target):
                    published = True
                    return key
            return None
        finally:
            if not published:
                shutil.rmtree(staged, ignore_errors=True)

    def _lock_for(self, directory: str) -> FileLock:
        # The lock file sits in the entity's own directory, where MLflow never
        # looks for keys.
        return FileLock(os.path.join(directory, ".lock"))

    # ------------------------------------------------------------ experiments
    def _experiment_dirs(self, view: str) -> Iterator[tuple[str, str]]:
        """(experiment id, dir) in the requested view, meta.yaml not checked."""
        bases = {
            VIEW_ACTIVE: [self.root],
            VIEW_DELETED: [self.trash],
            VIEW_ALL: [self.root, self.trash],
        }
        for base in bases[view]:
            try:
                entries = list(os.scandir(base))
            except FileNotFoundError:
                continue
            for entry in entries:
                name = entry.name
                if (
                    name.startswith(".")
                    or name == MODELS
                    or name.endswith(TRASH)
                    or not entry.is_dir()
                ):
                    continue
                yield name, entry.path

    def _find_experiment_dir(self, experiment_id: str) -> str:
        experiment_id = str(experiment_id)
        validation.validate_experiment_id(experiment_id)
        for base in (self.root, self.trash):
            path = os.path.join(base, experiment_id)
            if os.path.isfile(os.path.join(path, META)):
                return path
        raise NotFound(
            f"Could not find experiment with ID {experiment_id}. "
            "Check the id, or list experiments to find the right one."
        )

    def _read_experiment(self, exp_dir: str, with_tags: bool = True) -> entities.Experiment | None:
        text = read_text(os.path.join(exp_dir, META))
        if not text:
            return None
        meta = load_yaml(text)
        if not meta:
            return None
        exp_id = str(meta.get("experiment_id"))
        if exp_id != os.path.basename(exp_dir):
            return None  # MLflow ignores an experiment whose folder disagrees
        tags = read_values(os.path.join(exp_dir, TAGS)) if with_tags else {}
        return entities.Experiment(
            experiment_id=exp_id,
            name=meta.get("name"),
            artifact_location=meta.get("artifact_location"),
            lifecycle_stage=meta.get("lifecycle_stage") or ACTIVE,
            creation_time=meta.get("creation_time"),
            last_update_time=meta.get("last_update_time"),
            tags=tags,
        )

    def _experiment_meta_dict(self, exp: entities.Experiment) -> dict:
        meta = self._experiment_meta(
            exp.experiment_id, exp.name, exp.artifact_location, exp.creation_time or now_ms()
        )
        meta["last_update_time"] = exp.last_update_time
        meta["lifecycle_stage"] = exp.lifecycle_stage
        return meta

    def create_experiment(self, name, artifact_location=None, tags=None) -> str:
        tag_items = [(validation.validate_key(k, "tag key"), v) for k, v in (tags or {}).items()]
        location = artifact_location or None
        # The name check and the creation are one step for every process.
        with self._lock_for(self.root):
            existing = self.get_experiment_by_name(name)
            if existing is not None:
                if existing.lifecycle_stage == DELETED:
                    raise_exists = (
                        f"Experiment '{name}' already exists in deleted state. You can restore the "
                        "experiment, or permanently delete the experiment from the .trash folder "
                        "(under tracking server's root folder) in order to use this experiment "
                        "name again."
                    )
                else:
                    raise_exists = f"Experiment '{name}' already exists."
                raise AlreadyExists(raise_exists)
            ts = now_ms()
            candidates = (
                (
                    exp_id,
                    os.path.join(self.root, exp_id),
                    self._experiment_meta(exp_id, name, location, ts),
                )
                for exp_id in iter(random_experiment_id, None)  # until one id is free
            )
            return self._publish_entry(candidates, tags=dict(tag_items))

    def get_experiment(self, experiment_id) -> entities.Experiment:
        exp = self._read_experiment(self._find_experiment_dir(experiment_id))
        if exp is None:
            raise NotFound(f"Could not find experiment with ID {experiment_id}.")
        return exp

    def get_experiment_by_name(self, name) -> entities.Experiment | None:
        for _, exp_dir in self._experiment_dirs(VIEW_ALL):
            exp = self._read_experiment(exp_dir, with_tags=False)
            if exp is not None and exp.name == name:
                exp.tags = read_values(os.path.join(exp_dir, TAGS))
                return exp
        return None

    def list_experiments(self, view=VIEW_ACTIVE) -> list[entities.Experiment]:
        experiments = []
        for _, exp_dir in self._experiment_dirs(view):
            exp = self._read_experiment(exp_dir)
            if exp is not None:
                experiments.append(exp)
        experiments.sort(key=lambda e: (-(e.creation_time or 0), e.experiment_id))
        return experiments

    def _rewrite_experiment(self, exp_dir: str, **changes) -> entities.Experiment:
        with self._lock_for(exp_dir):
            exp = self._read_experiment(exp_dir, with_tags=False)
            if exp is None:
                raise NotFound(f"Could not find experiment in '{exp_dir}'.")
            for field, value in changes.items():
                setattr(exp, field, value)
            exp.last_update_time = now_ms()
            self._replace(os.path.join(exp_dir, META), dump_yaml(self._experiment_meta_dict(exp)))
        return exp

    def rename_experiment(self, experiment_id, new_name) -> None:
        exp_dir = self._find_experiment_dir(str(experiment_id))
        with self._lock_for(self.root):  # the same lock as create: names stay unique
            exp = self._read_experiment(exp_dir, with_tags=False)
            if exp is None or exp.lifecycle_stage != ACTIVE:
                raise InvalidState(
                    f"Cannot rename experiment {experiment_id}: it is not active. Restore it first."
                )
            other = self.get_experiment_by_name(new_name)
            if other is not None and other.experiment_id != exp.experiment_id:
                raise AlreadyExists(f"Experiment '{new_name}' already exists. Choose another name.")
            self._rewrite_experiment(exp_dir, name=new_name)

    def delete_experiment(self, experiment_id) -> None:
        experiment_id = str(experiment_id)
        exp_dir = self._find_experiment_dir(experiment_id)
        if os.path.dirname(exp_dir) == self.trash:
            raise InvalidState(
                f"Experiment {experiment_id} is already deleted; restore it first if needed."
            )
        self._rewrite_experiment(exp_dir, lifecycle_stage=DELETED)
        ts = now_ms()
        for run_dir in self._run_dirs(exp_dir):
            self._rewrite_run_meta(
                run_dir, only_if_active=True, lifecycle_stage=DELETED, deleted_time=ts
            )
        target = os.path.join(self.trash, experiment_id)
        _move_dir(
            exp_dir,
            target,
            f"Cannot move experiment {experiment_id} to the trash: '{target}' exists. "
            "Remove that folder first.",
        )
        self._forget_runs()

    def restore_experiment(self, experiment_id) -> None:
        experiment_id = str(experiment_id)
        exp_dir = self._find_experiment_dir(experiment_id)
        if os.path.dirname(exp_dir) != self.trash:
            raise InvalidState(f"Cannot restore experiment {experiment_id}: it is not deleted.")
        target = os.path.join(self.root, experiment_id)
        _move_dir(
            exp_dir,
            target,
            f"Cannot restore experiment {experiment_id}: '{target}' already exists. "
            "Remove it first.",
        )
        self._rewrite_experiment(target, lifecycle_stage=ACTIVE)
        for run_dir in self._run_dirs(target):
            self._rewrite_run_meta(run_dir, lifecycle_stage=ACTIVE, deleted_time=None)
        self._forget_runs()

    def set_experiment_tag(self, experiment_id, key, value) -> None:
        validation.validate_key(key, "tag key")  # a file name: see base.py
        exp_dir = self._find_experiment_dir(str(experiment_id))
        exp = self._read_experiment(exp_dir, with_tags=False)
        if exp is None or exp.lifecycle_stage != ACTIVE:
            raise InvalidState(
                f"The experiment {experiment_id} must be in the 'active' lifecycle_stage "
                "to set tags. "
                "Restore it first."
            )
        self._replace(os.path.join(exp_dir, TAGS, key), value, tmp_dir=exp_dir)

    # ------------------------------------------------------------------- runs
    def _run_dirs(self, exp_dir: str) -> list[str]:
        try:
            entries = list(os.scandir(exp_dir))
        except FileNotFoundError:
            return []
        return [
            e.path
            for e in entries
            if not e.name.startswith(".")
            and e.name not in RESERVED_EXPERIMENT_FOLDERS
            and e.is_dir()
        ]

    def _forget_runs(self) -> None:
        with self._lock:
            self._runs.clear()

    def _locate_run(self, run_id: str) -> str:
        for base in (self.root, self.trash):
            try:
                entries = list(os.scandir(base))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.name.startswith(".") or entry.name == MODELS:
                    continue
                run_dir = os.path.join(entry.path, run_id)
                if os.path.isfile(os.path.join(run_dir, META)):
                    return run_dir
        raise NotFound(
            f"Run '{run_id}' not found. Check the run id: `mlcadence runs list` lists the runs."
        )

    def _run_info_from_meta(self, run_dir: str, meta: dict) -> entities.RunInfo:
        run_id = os.path.basename(run_dir)
        exp_id = str(meta.get("experiment_id"))
        if meta.get("run_id") != run_id or exp_id != os.path.basename(os.path.dirname(run_dir)):
            raise InvalidState(
                f"Run '{run_id}' metadata is in invalid state: its meta.yaml names run "
                f"{meta.get('run_id')!r} of experiment {exp_id!r}. Move it back or fix the file."
            )
        return entities.RunInfo(
            run_id=run_id,
            experiment_id=exp_id,
            run_name=meta.get("run_name") or "",
            user_id=meta.get("user_id") or "",
            status=entities.RunStatus(meta.get("status") or entities.RunStatus.RUNNING),
            start_time=meta.get("start_time"),
            end_time=meta.get("end_time"),
            artifact_uri=meta.get("artifact_uri"),
            lifecycle_stage=meta.get("lifecycle_stage") or ACTIVE,
        )

    def _read_run_meta(self, run_dir: str) -> dict | None:
        text = read_text(os.path.join(run_dir, META))
        return load_yaml(text) if text else None

    def _cached_run(self, run_id: str) -> tuple[str, entities.RunInfo]:
        """Run dir and info, validated by one stat of meta.yaml when cached."""
        entry = self._runs.get(run_id)
        if entry is not None:
            run_dir, meta_path, signature, info = entry
            try:
                st = os.stat(meta_path)
                if (st.st_ino, st.st_size, st.st_mtime_ns) == signature:
                    return run_dir, info
            except FileNotFoundError:
                pass
        else:
            validation.validate_run_id(run_id)
        for _attempt in range(3):
            run_dir = (
                entry[0]
                if entry is not None and os.path.isdir(entry[0])
                else self._locate_run(run_id)
            )
            meta_path = os.path.join(run_dir, META)
            try:
                with open(meta_path, "rb") as handle:
                    st = os.fstat(handle.fileno())
                    text = handle.read().decode("utf-8")
            except FileNotFoundError:
                entry = None  # moved (experiment deleted/restored) while we looked
                continue
            meta = load_yaml(text) if text else None
            if not meta:
                raise NotFound(f"Run '{run_id}' not found: its meta.yaml is empty.")
            info = self._run_info_from_meta(run_dir, meta)
            signature = (st.st_ino, st.st_size, st.st_mtime_ns)
            self._runs[run_id] = (run_dir, meta_path, signature, info)
            return run_dir, info
        raise NotFound(f"Run '{run_id}' not found.")

    def _active_run_dir(self, run_id: str) -> str:
        run_dir, info = self._cached_run(run_id)
        if info.lifecycle_stage != ACTIVE:
            raise InvalidState(
                f"The run {run_id} must be in 'active' lifecycle_stage. Restore the run first."
            )
        return run_dir

    def _rewrite_run_meta(
        self, run_dir: str, only_if_active: bool = False, **changes
    ) -> dict | None:
        """Read-modify-write of a run's meta.yaml under its lock. A change to
        None removes the key (deleted_time, as MLflow drops it). A new
        run_name is written to the mlflow.runName tag under the same lock, so
        racing renames leave meta and tag agreeing."""
        with self._lock_for(run_dir):
            meta = self._read_run_meta(run_dir)
            if meta is None:
                raise NotFound(f"Run '{os.path.basename(run_dir)}' not found.")
            if only_if_active and meta.get("lifecycle_stage", ACTIVE) != ACTIVE:
                return meta
            # Like MLflow, every rewrite drops deleted_time unless it sets one.
            meta.pop("deleted_time", None)
            meta.update(
                {k: v for k, v in changes.items() if not (k == "deleted_time" and v is None)}
            )
            if "run_name" in changes:
                tag_path = os.path.join(run_dir, TAGS, RUN_NAME_TAG)
                self._replace(tag_path, changes["run_name"], tmp_dir=run_dir)
            self._replace(os.path.join(run_dir, META), dump_yaml(meta))
            self._runs.pop(os.path.basename(run_dir), None)
        return meta

    def create_run(self, experiment_id, user_id, start_time, run_name, tags=()) -> entities.Run:
        experiment_id = str(experiment_id)
        exp = self.get_experiment(experiment_id)
        if exp.lifecycle_stage != ACTIVE:
            raise InvalidState(
                f"Could not create run under non-active experiment with ID {experiment_id}. "
                "Restore the experiment or use another one."
            )
        tag_map = {validation.validate_key(t.key, "tag key"): t.value for t in tags}
        tag_map[RUN_NAME_TAG] = run_name
        run_id = uuid.uuid4().hex
        run_dir = os.path.join(self.root, experiment_id, run_id)
        start_time = int(start_time)
        info = entities.RunInfo(
            run_id=run_id,
            experiment_id=experiment_id,
            run_name=run_name,
            user_id=user_id,
            status=entities.RunStatus.RUNNING,
            start_time=start_time,
            end_time=None,
            artifact_uri=f"{exp.artifact_location}/{run_id}/{ARTIFACTS}",
            lifecycle_stage=ACTIVE,
        )
        meta = {
            "artifact_uri": info.artifact_uri,
            "deleted_time": None,
            "end_time": None,
            "experiment_id": experiment_id,
            "lifecycle_stage": ACTIVE,
            "run_id": run_id,
            "run_name": run_name,
            "start_time": start_time,
            "status": int(entities.RunStatus.RUNNING),
            "user_id": info.user_id,
            **_LEGACY_RUN_FIELDS,
        }
        published = self._publish_entry(
            [(run_id, run_dir, meta)], tags=tag_map, subdirs=(METRICS, PARAMS, ARTIFACTS, TAGS)
        )
        if published is None:  # a uuid4 clash: never in practice
            raise AlreadyExists(f"Run '{run_id}' already exists; create the run again.")
        return entities.Run(info, entities.RunData(tags=dict(tag_map)))

    def _read_latest_metrics(self, run_dir: str) -> dict[str, float]:
        metrics_dir = os.path.join(run_dir, METRICS)
        latest = {}
        for key in list_files(metrics_dir):
            value = self._files.get(os.path.join(metrics_dir, key), parse_latest_metric, key)
            if value is not None:
                latest[key] = value
        return latest

    def _read_values(self, directory: str) -> dict[str, str]:
        values = {}
        for key in list_files(directory):
            text = self._files.get(os.path.join(directory, key), as_text)
            if text is not None:
                values[key] = text
        return values

    def _load_run(self, run_dir: str, info: entities.RunInfo) -> entities.Run:
        data = entities.RunData(
            metrics=self._read_latest_metrics(run_dir),
            params=self._read_values(os.path.join(run_dir, PARAMS)),
            tags=self._read_values(os.path.join(run_dir, TAGS)),
        )
        if not info.run_name:
            info.run_name = data.tags.get(RUN_NAME_TAG, "")
        return entities.Run(info, data)

    def get_run(self, run_id) -> entities.Run:
        # The cache only locates the run; its meta is read fresh so that a
        # change by another process is never missed.
        run_dir, _ = self._cached_run(run_id)
        meta = self._read_run_meta(run_dir)
        if meta is None:
            self._runs.pop(run_id, None)
            run_dir, _ = self._cached_run(run_id)
            meta = self._read_run_meta(run_dir)
        if meta is None:
            raise NotFound(f"Run '{run_id}' not found.")
        return self._load_run(run_dir, self._run_info_from_meta(run_dir, meta))

    def update_run(self, run_id, status=None, end_time=None, run_name=None) -> entities.RunInfo:
        run_dir = self._active_run_dir(run_id)
        changes = {}
        if status is not None:
            changes["status"] = int(entities.RunStatus.parse(status))
        if end_time is not None:
            changes["end_time"] = int(end_time)
        if run_name:
            changes["run_name"] = run_name
        meta = self._rewrite_run_meta(run_dir, **changes)
        return self._run_info_from_meta(run_dir, meta)

    def delete_run(self, run_id) -> None:
        run_dir, _ = self._cached_run(run_id)
        self._rewrite_run_meta(run_dir, lifecycle_stage=DELETED, deleted_time=now_ms())

    def restore_run(self, run_id) -> None:
        run_dir, _ = self._cached_run(run_id)
        self._rewrite_run_meta(run_dir, lifecycle_stage=ACTIVE, deleted_time=None)

    # ---------------------------------------------------------------- logging
    def _write_param(self, run_dir: str, run_id: str, key: str, value: str) -> None:
        path = os.path.join(run_dir, PARAMS, key)
        try:
            if self._create_once(path, value, tmp_dir=run_dir):
                return
            old = read_text(path)
        except (NotADirectoryError, IsADirectoryError):
            raise _key_clash("param", key) from None
        if old != value:
            raise _param_changed(key, old, value, run_id)

    def _write_tag(self, run_dir: str, key: str, value: str) -> None:
        if key == RUN_NAME_TAG:  # the name lives in meta.yaml too
            self._rewrite_run_meta(run_dir, run_name=value)
        else:
            try:
                self._replace(os.path.join(run_dir, TAGS, key), value, tmp_dir=run_dir)
            except (NotADirectoryError, IsADirectoryError):
                raise _key_clash("tag", key) from None

    def log_batch(self, run_id, metrics=(), params=(), tags=()) -> None:
        for what, items in (("metric key", metrics), ("param key", params), ("tag key", tags)):
            for item in items:
                validation.validate_key(item.key, what)  # file names: see base.py
        run_dir = self._active_run_dir(run_id)
        # Refuse a changed param before anything of the batch is written.
        for param in params:
            old = read_text(os.path.join(run_dir, PARAMS, param.key))
            if old is not None and old != param.value:
                raise _param_changed(param.key, old, param.value, run_id)
        for param in params:
            self._write_param(run_dir, run_id, param.key, param.value)
        lines: dict[str, list[bytes]] = {}
        for m in metrics:
            lines.setdefault(m.key, []).append(metric_line(m).encode("utf-8"))
        if lines:
            self._append_metric_lines(run_dir, lines)
        for tag in tags:
            self._write_tag(run_dir, tag.key, tag.value)

    def log_metric(self, run_id, metric: entities.Metric) -> None:
        if metric.key not in self._valid_metric_keys:
            validation.validate_key(metric.key, "metric key")  # a file name: see base.py
            self._valid_metric_keys.add(metric.key)
        run_dir = self._active_run_dir(run_id)
        self._append_metric_lines(run_dir, {metric.key: [metric_line(metric).encode()]})

    def _append_metric_lines(self, run_dir: str, lines: dict[str, list[bytes]]) -> None:
        """Append each key's lines, leaving out exact duplicates of records
        already logged (file_metric_lines)."""
        with self._lock_for(run_dir):
            for key, key_lines in lines.items():
                path = os.path.join(run_dir, METRICS, key)
                try:
                    fresh = self._metric_lines.new_lines(path, key_lines)
                    if fresh:
                        append_bytes(path, b"".join(fresh))
                except (NotADirectoryError, IsADirectoryError):
                    raise _key_clash("metric", key) from None

    def log_param(self, run_id, param: entities.Param) -> None:
        validation.validate_key(param.key, "param key")  # a file name: see base.py
        self._write_param(self._active_run_dir(run_id), run_id, param.key, param.value)

    def set_tag(self, run_id, tag: entities.RunTag) -> None:
        validation.validate_key(tag.key, "tag key")  # a file name: see base.py
        self._write_tag(self._active_run_dir(run_id), tag.key, tag.value)

    def delete_tag(self, run_id, key) -> None:
        validation.validate_key(key, "tag key")
        run_dir = self._active_run_dir(run_id)
        try:
            os.unlink(os.path.join(run_dir, TAGS, key))
        except FileNotFoundError:
            raise NotFound(f"No tag with name: {key} in run with id {run_id}") from None

    def get_metric_history(self, run_id, key) -> list[entities.Metric]:
        validation.validate_key(key, "metric key")
        run_dir, _ = self._cached_run(run_id)
        text = read_text(os.path.join(run_dir, METRICS, key))
        return parse_metric_lines(text, key) if text else []

    # ----------------------------------------------------------------- search
    def search_runs(
        self, experiment_ids, filter_string="", view=VIEW_ACTIVE, max_results=1000, order_by=()
    ):
        """Per run: each clause's one file in turn (a run failing a clause
        reads no further), its meta.yaml, then the order keys' files, all
        through the stat-checked cache; full data only for the runs returned.
        The metric/param/tag clauses come before meta.yaml unless the filter
        has clauses on meta.yaml's fields, which then come first."""
        clauses = run_search.parse_filter(filter_string)
        order_keys = run_search.parse_order_by(order_by)
        on_meta = [c for c in clauses if c.kind == "attribute" and c.key != "run_name"]
        fields = [(c, _SearchField.of(c)) for c in clauses if c not in on_meta]
        on_files = [(c, f) for c, f in fields if f.suffix is not None]
        on_names = [(c, f) for c, f in fields if f.suffix is None]  # run_name: meta or tag
        files_first = on_files if not on_meta else []
        files_after = [] if files_first else on_files
        order_fields = [_SearchField.of(key) for key in order_keys]
        # Without a metric, param or tag to read, every light run shares one empty RunData.
        shared_data = (
            entities.RunData()
            if not on_files and all(f.suffix is None for f in order_fields)
            else None
        )
        wanted_stage = {VIEW_ACTIVE: ACTIVE, VIEW_DELETED: DELETED}.get(view)
        candidates: list[entities.Run] = []
        run_dirs: dict[str, str] = {}
        for experiment_id in dict.fromkeys(str(e) for e in experiment_ids):
            try:
                exp_dir = self._find_experiment_dir(experiment_id)
            except NotFound:
                continue
            for run_dir in self._run_dirs(exp_dir):
                run = entities.Run(None, shared_data or entities.RunData())
                if files_first and not self._matches(run_dir, run, files_first):
                    continue
                run.info = self._search_run_info(run_dir)
                if run.info is None or (wanted_stage and run.info.lifecycle_stage != wanted_stage):
                    continue
                if on_meta and not run_search.run_matches(run, on_meta):
                    continue
                if self._matches(run_dir, run, files_after + on_names):
                    for field in order_fields:
                        self._fill(run_dir, run, field)
                    candidates.append(run)
                    run_dirs[run.info.run_id] = run_dir
        ordered = run_search.sort_runs(candidates, order_keys)
        return [
            self._load_run(run_dirs[r.info.run_id], dataclasses.replace(r.info))
            for r in ordered[:max_results]
        ]

    def _matches(self, run_dir: str, run: entities.Run, clauses) -> bool:
        """Every (clause, field) holds, each field read only if the ones
        before held."""
        return all(
            self._fill(run_dir, run, field) and run_search.clause_matches(run, clause)
            for clause, field in clauses
        )

    def _search_run_info(self, run_dir: str) -> entities.RunInfo | None:
        """The run's cached RunInfo (shared: never mutate it), None while it
        is being created or when its meta.yaml names another run."""
        try:
            return self._files.get(run_dir + _META_SUFFIX, self._parse_run_meta, run_dir)
        except (InvalidState, ValueError):
            return None

    def _parse_run_meta(self, text: str, run_dir: str) -> entities.RunInfo | None:
        meta = load_yaml(text) if text else None
        return self._run_info_from_meta(run_dir, meta) if meta else None

    def _fill(self, run_dir: str, run: entities.Run, field: _SearchField) -> bool:
        """Load the one value a clause or order key looks at into the
        search's light `run`. Always True, so it chains in `all()`."""
        if field.suffix is None:
            if field.key == "run_name" and not run.info.run_name:
                # Older runs keep the name in the mlflow.runName tag only.
                tag = self._files.get(run_dir + _RUN_NAME_TAG_SUFFIX, as_text)
                run.info = dataclasses.replace(run.info, run_name=tag or "")
            return True
        target = getattr(run.data, field.values)
        if field.key not in target:
            value = self._files.get(run_dir + field.suffix, field.parse, field.key)
            if value is not None:
                target[field.key] = value
        return True


_META_SUFFIX = os.sep + META
_RUN_NAME_TAG_SUFFIX = os.sep + os.path.join(TAGS, RUN_NAME_TAG)


@dataclasses.dataclass(frozen=True)
class _SearchField:
    """Where a searched metric, param or tag lives in a run's folder
    (`suffix` after the run dir, None for attributes: meta.yaml's), how its
    file is parsed, and which RunData dict (`values`) it goes into."""

    kind: str
    key: str
    suffix: str | None
    parse: object
    values: str

    @classmethod
    def of(cls, item) -> _SearchField:
        folder, parse, values = _FIELD_FILES.get(item.kind, (None, None, ""))
        suffix = os.sep + os.path.join(folder, item.key) if folder else None
        return cls(item.kind, item.key, suffix, parse, values)


# kind -> (folder in the run dir, parse(text, key), RunData attribute)
_FIELD_FILES = {
    "metric": (METRICS, parse_latest_metric, "metrics"),
    "param": (PARAMS, as_text, "params"),
    "tag": (TAGS, as_text, "tags"),
}


def _param_changed(key: str, old: str | None, new: str, run_id: str) -> InvalidInput:
    return InvalidInput(
        f"Changing param values is not allowed. Param with key='{key}' was already logged with "
        f"value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'. "
        "Log the new value under another key or in a new run."
    )


def _move_dir(source: str, target: str, refusal: str) -> None:
    """Rename a directory, refusing (InvalidState: `refusal`) rather than
    merging into one that is already there."""
    if os.path.exists(target):
        raise InvalidState(refusal)
    os.rename(source, target)


def _key_clash(what: str, key: str) -> InvalidInput:
    # The file store keeps each key as a file and each '/' as a folder, so
    # 'q' and 'q/sub' cannot both exist (SQL stores would take both).
    return InvalidInput(
        f"The {what} key '{key}' clashes with another {what} key of this run: in the file store "
        f"a key is a file and each '/' a folder, so 'q' and 'q/sub' cannot both exist. "
        f"Rename one of them (e.g. 'q/value' and 'q/sub')."
    )
