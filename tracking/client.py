"""`Client`: explicit, run-id based access to one tracking store (MlflowClient-like).

The Client validates and normalizes input (keys, values, batch limits,
run-name rules) and then calls the backend chosen by URI scheme, through its
two narrow interfaces: the `RunStore` for runs and the `RegistryStore` for
the model registry. Backends trust what the Client passes them.
It holds no state besides the backend, so one Client may be shared by
threads.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from mlcadence.tracking import artifacts as _artifacts
from mlcadence.tracking import entities
from mlcadence.tracking.backends import get_backend
from mlcadence.tracking.backends.base import RegistryStore, RunStore
from mlcadence.tracking.conventions import (
    DEFAULT_EXPERIMENT_ID,
    RUN_NAME_TAG,
    USER_TAG,
    VIEW_ACTIVE,
    VIEWS,
    location_uri,
    now_ms,
    random_run_name,
)
from mlcadence.tracking.entities import STAGES
from mlcadence.tracking.errors import InvalidInput, UnsupportedBackend
from mlcadence.tracking.search import MAX_CLAUSES
from mlcadence.tracking.tracking_uri import get_tracking_uri, normalize_uri
from mlcadence.tracking.validation import (
    canonical_stage,
    validate_alias,
    validate_archive_existing,
    validate_artifact_location,
    validate_batch,
    validate_editable_version_tag,
    validate_experiment_id,
    validate_experiment_name,
    validate_key,
    validate_metric,
    validate_model_name,
    validate_param,
    validate_registry_tag,
    validate_run_id,
    validate_run_name,
    validate_tag,
    validate_version,
)

_VIEWS = set(VIEWS)


_PLAIN_NUMBERS = (int, float)  # exact types: bool and numpy scalars take the full check


@functools.lru_cache(maxsize=4096)
def _valid_metric_key(key: str) -> bool:
    validate_key(key, "metric key")  # raises for a bad key; exceptions are not cached
    return True


@functools.lru_cache(maxsize=1024)
def _valid_run_id(run_id: str) -> bool:
    validate_run_id(run_id)
    return True


def _known_metric_key(key) -> bool:
    return type(key) is str and _valid_metric_key(key)


def _known_run_id(run_id) -> bool:
    return type(run_id) is str and _valid_run_id(run_id)


def _tag_list(
    tags: Mapping[str, object] | Iterable[entities.RunTag] | None,
) -> list[entities.RunTag]:
    if not tags:
        return []
    if isinstance(tags, Mapping):
        items = tags.items()
    else:
        items = ((t.key, t.value) for t in tags)
    return [entities.RunTag(*validate_tag(k, v)) for k, v in items]


def _registry_tags(tags: Mapping[str, object] | None) -> dict[str, str] | None:
    clean = dict(validate_registry_tag(k, v) for k, v in (tags or {}).items())
    return clean or None


def _check_view(view: str) -> str:
    view = str(view).lower()
    if view not in _VIEWS:
        raise InvalidInput(f"Invalid view type '{view}': use one of 'active', 'deleted', 'all'.")
    return view


# A deliberately small grammar for experiment / model / version search:
# `<field> <op> '<value>'` clauses joined by AND.
_SIMPLE_CLAUSE = re.compile(
    r"\s*(?P<field>[\w.`]+)\s*(?P<op>=|!=|ILIKE|LIKE)\s*(?P<q>['\"])(?P<value>.*?)(?P=q)\s*",
    re.IGNORECASE,
)


def _parse_simple_filter(
    filter_string: str | None, fields: Iterable[str]
) -> list[tuple[str, str, str]]:
    if not filter_string or not filter_string.strip():
        return []
    if "\x00" in filter_string:
        raise InvalidInput("Invalid filter: it contains a NUL character; remove it.")
    parts = re.split(r"\s+AND\s+", filter_string.strip(), flags=re.IGNORECASE)
    if len(parts) > MAX_CLAUSES:
        raise InvalidInput(
            f"Invalid filter: {len(parts)} clauses; at most {MAX_CLAUSES} are allowed. "
            "Narrow the search in steps."
        )
    allowed = set(fields)
    clauses = []
    for part in parts:
        m = _SIMPLE_CLAUSE.fullmatch(part)
        if not m:
            raise InvalidInput(
                f"Invalid filter '{filter_string}': expected clauses like name = 'x' or "
                "name LIKE 'x%' joined by AND."
            )
        field = m["field"].replace("`", "")
        if field.startswith("tag."):  # MLflow accepts both spellings
            field = "tags." + field[4:]
        if field not in allowed and not field.startswith("tags."):
            raise InvalidInput(
                f"Invalid filter field '{field}': use one of {sorted(allowed)} or tags.<key>."
            )
        clauses.append((field, m["op"].upper(), m["value"]))
    return clauses


def _like(pattern: str, value: str, case_insensitive: bool) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.fullmatch(regex, value, flags) is not None


def _matches(get, clauses: list[tuple[str, str, str]]) -> bool:
    for field, op, expected in clauses:
        actual = get(field)
        if actual is None:
            if op == "!=":
                continue
            return False
        actual = str(actual)
        ok = {
            "=": lambda a=actual, e=expected: a == e,
            "!=": lambda a=actual, e=expected: a != e,
            "LIKE": lambda a=actual, e=expected: _like(e, a, False),
            "ILIKE": lambda a=actual, e=expected: _like(e, a, True),
        }[op]()
        if not ok:
            return False
    return True


class _NoRegistry:
    """Stands in for the registry of a plugin backend that has none."""

    def __init__(self, tracking_uri: str):
        self._tracking_uri = tracking_uri

    def __getattr__(self, name: str):
        raise UnsupportedBackend(
            f"The tracking backend for '{self._tracking_uri}' has no model registry "
            f"(it does not implement RegistryStore), so '{name}' is unavailable. Use a file, "
            "sqlite: or postgresql: tracking URI for registry operations."
        )


class Client:
    """MlflowClient-like access to the store at `tracking_uri` (default:
    `get_tracking_uri()`)."""

    def __init__(self, tracking_uri: str | os.PathLike | None = None, *, backend=None):
        """`backend`: a store built by the caller (a server builds its own with
        server options) instead of the shared one for `tracking_uri`."""
        self.tracking_uri = (
            get_tracking_uri() if tracking_uri is None else normalize_uri(os.fspath(tracking_uri))
        )
        if backend is None:
            backend = get_backend(self.tracking_uri)
        # One object behind both for the built-in backends; each half of the
        # Client talks only to its own narrow interface.
        self._runs: RunStore = backend
        self._registry: RegistryStore = (
            backend if isinstance(backend, RegistryStore) else _NoRegistry(self.tracking_uri)
        )

    @property
    def backend(self) -> RunStore:
        """The store behind this Client's run methods (for servers and
        benchmarks that skip the Client's checks)."""
        return self._runs

    @property
    def registry_store(self) -> RegistryStore:
        return self._registry

    def __repr__(self) -> str:
        return f"Client({self.tracking_uri!r})"

    # -- experiments -------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, str] | None = None
    ) -> str:
        validate_experiment_name(name)
        location = None
        if artifact_location:
            location = location_uri(validate_artifact_location(str(artifact_location)))
        clean_tags = {t.key: t.value for t in _tag_list(tags)}
        return self._runs.create_experiment(name, location, clean_tags or None)

    def get_experiment(self, experiment_id: str) -> entities.Experiment:
        return self._runs.get_experiment(validate_experiment_id(str(experiment_id)))

    def get_experiment_by_name(self, name: str) -> entities.Experiment | None:
        return self._runs.get_experiment_by_name(validate_experiment_name(name))

    def search_experiments(
        self,
        view_type: str = VIEW_ACTIVE,
        max_results: int | None = None,
        filter_string: str | None = None,
    ) -> list[entities.Experiment]:
        """Experiments in the view, filtered by `name`/`tags.<k>` clauses
        (=, !=, LIKE, ILIKE joined by AND), newest first."""
        clauses = _parse_simple_filter(filter_string, ("name", "experiment_id", "lifecycle_stage"))
        experiments = self._runs.list_experiments(_check_view(view_type))

        def getter(exp):
            def get(field):
                if field.startswith("tags."):
                    return exp.tags.get(field[5:])
                return getattr(exp, field)

            return get

        found = [e for e in experiments if _matches(getter(e), clauses)]
        found.sort(key=lambda e: (-(e.creation_time or 0), e.experiment_id))
        return found if max_results is None else found[:max_results]

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._runs.rename_experiment(
            validate_experiment_id(str(experiment_id)), validate_experiment_name(new_name)
        )

    def delete_experiment(self, experiment_id: str) -> None:
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            raise InvalidInput(
                f"Cannot delete the default experiment '{DEFAULT_EXPERIMENT_ID}'. This is an "
                "internally reserved experiment; delete its runs instead."
            )
        self._runs.delete_experiment(validate_experiment_id(str(experiment_id)))

    def restore_experiment(self, experiment_id: str) -> None:
        self._runs.restore_experiment(validate_experiment_id(str(experiment_id)))

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        key, value = validate_tag(key, value)
        self._runs.set_experiment_tag(validate_experiment_id(str(experiment_id)), key, value)

    # -- runs --------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        run_name: str | None = None,
        tags: Mapping[str, str] | Iterable[entities.RunTag] | None = None,
        start_time: int | None = None,
        user_id: str | None = None,
    ) -> entities.Run:
        """A RUNNING run. The name is `run_name`, else the `mlflow.runName`
        tag, else a generated one; it is stored in both places. The user is
        `user_id`, else the `mlflow.user` tag, else "unknown"."""
        validate_experiment_id(str(experiment_id))
        tag_list = _tag_list(tags)
        by_key = {t.key: t.value for t in tag_list}
        tag_name = by_key.get(RUN_NAME_TAG)
        if run_name is not None and tag_name is not None and run_name != tag_name:
            raise InvalidInput(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                f"different values (run_name='{run_name}', mlflow.runName='{tag_name}'). "
                "Give only one of them."
            )
        name = validate_run_name(run_name or tag_name) or random_run_name()
        if tag_name is None:
            tag_list.append(entities.RunTag(RUN_NAME_TAG, name))
        user = user_id or by_key.get(USER_TAG) or "unknown"
        return self._runs.create_run(
            str(experiment_id),
            user_id=user,
            start_time=now_ms() if start_time is None else int(start_time),
            run_name=name,
            tags=tag_list,
        )

    def get_run(self, run_id: str) -> entities.Run:
        return self._runs.get_run(validate_run_id(run_id))

    def update_run(
        self, run_id: str, status: entities.RunStatus | str | None = None, name: str | None = None
    ) -> entities.RunInfo:
        parsed = None if status is None else parse_status(status)
        end = now_ms() if parsed is not None and parsed.is_terminal else None
        return self._runs.update_run(validate_run_id(run_id), parsed, end, validate_run_name(name))

    def set_terminated(
        self,
        run_id: str,
        status: entities.RunStatus | str = "FINISHED",
        end_time: int | None = None,
    ) -> entities.RunInfo:
        parsed = parse_status(status)
        if not parsed.is_terminal:
            raise InvalidInput(
                f"set_terminated needs a terminal status, got '{parsed.name}'. "
                "Use FINISHED, FAILED or KILLED."
            )
        return self._runs.update_run(
            validate_run_id(run_id), parsed, now_ms() if end_time is None else int(end_time)
        )

    def delete_run(self, run_id: str) -> None:
        self._runs.delete_run(validate_run_id(run_id))

    def restore_run(self, run_id: str) -> None:
        self._runs.restore_run(validate_run_id(run_id))

    def log_param(self, run_id: str, key: str, value) -> object:
        key, text = validate_param(key, value)
        self._runs.log_param(validate_run_id(run_id), entities.Param(key, text))
        return value

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = 0,
    ) -> None:
        ts = now_ms() if timestamp is None else timestamp
        step = 0 if step is None else step
        # Training loops log the same few keys into the same run thousands of
        # times: plain ints/floats with an already-checked key and run id skip
        # straight to the backend (which checks again anyway).
        if (
            type(value) in _PLAIN_NUMBERS
            and type(ts) is int
            and type(step) is int
            and ts >= 0
            and _known_metric_key(key)
            and _known_run_id(run_id)
        ):
            self._runs.log_metric(run_id, entities.Metric(key, float(value), ts, step))
            return
        key, fvalue, ts, st = validate_metric(key, value, ts, step)
        self._runs.log_metric(validate_run_id(run_id), entities.Metric(key, fvalue, ts, st))

    def set_tag(self, run_id: str, key: str, value) -> None:
        self._runs.set_tag(validate_run_id(run_id), entities.RunTag(*validate_tag(key, value)))

    def delete_tag(self, run_id: str, key: str) -> None:
        validate_key(key, "tag key")
        self._runs.delete_tag(validate_run_id(run_id), key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[entities.Metric] = (),
        params: Sequence[entities.Param] = (),
        tags: Sequence[entities.RunTag] = (),
    ) -> None:
        """At most 1000 metrics, 100 params, 100 tags (1000 items in all); on
        any invalid item nothing is written."""
        metrics, params, tags = list(metrics or ()), list(params or ()), list(tags or ())
        validate_batch(metrics, params, tags)
        clean_metrics = [
            entities.Metric(*validate_metric(m.key, m.value, m.timestamp, m.step)) for m in metrics
        ]
        clean_params = [entities.Param(*validate_param(p.key, p.value)) for p in params]
        clean_tags = [entities.RunTag(*validate_tag(t.key, t.value)) for t in tags]
        self._runs.log_batch(validate_run_id(run_id), clean_metrics, clean_params, clean_tags)

    def get_metric_history(self, run_id: str, key: str) -> list[entities.Metric]:
        validate_key(key, "metric key")
        return self._runs.get_metric_history(validate_run_id(run_id), key)

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: str = VIEW_ACTIVE,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
    ) -> list[entities.Run]:
        if isinstance(experiment_ids, str):
            experiment_ids = [experiment_ids]
        ids = [validate_experiment_id(str(e)) for e in experiment_ids]
        if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
            raise InvalidInput(f"max_results must be a positive integer, got {max_results!r}.")
        if max_results > 50_000:
            raise InvalidInput(
                f"max_results {max_results} is above the limit of 50000; narrow the filter."
            )
        return self._runs.search_runs(
            ids, filter_string or "", _check_view(run_view_type), max_results, list(order_by or ())
        )

    # -- artifacts -----------------------------------------------------------
    def _artifact_uri(self, run_id: str) -> str:
        return self.get_run(run_id).info.artifact_uri

    def artifact_path(self, run_id: str, path: str = "") -> Path:
        """Local path of the run's artifact directory (or of `path` inside it).
        Only for local artifact locations: a server's are reached through the
        other artifact methods (download_artifacts gives a local copy)."""
        artifact_uri = self._artifact_uri(run_id)
        if not _artifacts.is_local(artifact_uri):
            raise InvalidInput(
                f"The artifacts of run {run_id} are kept by the tracking server "
                f"('{artifact_uri}'), not in a local directory. Use download_artifacts() for a "
                "local copy, or log_artifact(s)() to add files."
            )
        return _artifacts.resolve(_artifacts.artifact_root(artifact_uri), path)

    def artifact_location(self, run_id: str, path: str = "") -> str:
        """The URI of the run's artifact directory (or of `path` inside it),
        local or on a server."""
        uri = self._artifact_uri(run_id).rstrip("/")
        rel = _artifacts.check_relative(path)
        return f"{uri}/{rel}" if rel else uri

    def artifacts_are_local(self, run_id: str) -> bool:
        return _artifacts.is_local(self._artifact_uri(run_id))

    def log_artifact(self, run_id: str, local_path, artifact_path: str | None = None) -> str:
        return _artifacts.log_artifact(
            self._artifact_uri(run_id), local_path, artifact_path, tracking_uri=self.tracking_uri
        )

    def log_artifacts(self, run_id: str, local_dir, artifact_path: str | None = None) -> list[str]:
        return _artifacts.log_artifacts(
            self._artifact_uri(run_id), local_dir, artifact_path, tracking_uri=self.tracking_uri
        )

    def log_text(self, run_id: str, text: str, artifact_file: str) -> str:
        return _artifacts.log_text(
            self._artifact_uri(run_id), text, artifact_file, tracking_uri=self.tracking_uri
        )

    def log_dict(self, run_id: str, dictionary: dict, artifact_file: str) -> str:
        return _artifacts.log_dict(
            self._artifact_uri(run_id), dictionary, artifact_file, tracking_uri=self.tracking_uri
        )

    def list_artifacts(self, run_id: str, path: str = "") -> list[_artifacts.FileInfo]:
        return _artifacts.list_artifacts(
            self._artifact_uri(run_id), path, tracking_uri=self.tracking_uri
        )

    def download_artifacts(self, run_id: str, path: str = "", dst_path=None) -> Path:
        return _artifacts.download_artifacts(
            self._artifact_uri(run_id), path, dst_path, tracking_uri=self.tracking_uri
        )

    # -- registry ------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: Mapping[str, str] | None = None, description: str | None = None
    ) -> entities.RegisteredModel:
        return self._registry.create_registered_model(
            validate_model_name(name), _registry_tags(tags), description
        )

    def get_registered_model(self, name: str) -> entities.RegisteredModel:
        return self._registry.get_registered_model(validate_model_name(name))

    def search_registered_models(
        self, filter_string: str | None = None, max_results: int | None = None
    ) -> list[entities.RegisteredModel]:
        """Registered models matching `name`/`tags.<k>` clauses, by name."""
        clauses = _parse_simple_filter(filter_string, ("name",))

        def getter(model):
            return lambda f: model.tags.get(f[5:]) if f.startswith("tags.") else getattr(model, f)

        found = [m for m in self._registry.list_registered_models() if _matches(getter(m), clauses)]
        found.sort(key=lambda m: m.name)
        return found if max_results is None else found[:max_results]

    def rename_registered_model(self, name: str, new_name: str) -> entities.RegisteredModel:
        return self._registry.rename_registered_model(
            validate_model_name(name), validate_model_name(new_name)
        )

    def update_registered_model(self, name: str, description: str) -> entities.RegisteredModel:
        return self._registry.update_registered_model(validate_model_name(name), description)

    def delete_registered_model(self, name: str) -> None:
        self._registry.delete_registered_model(validate_model_name(name))

    def set_registered_model_tag(self, name: str, key: str, value) -> None:
        key, value = validate_registry_tag(key, value)
        self._registry.set_registered_model_tag(validate_model_name(name), key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._registry.delete_registered_model_tag(validate_model_name(name), key)

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> entities.ModelVersion:
        if not source:
            raise InvalidInput(
                "Missing value for required parameter 'source': give the model's URI."
            )
        if run_id is not None:
            validate_run_id(run_id)
        return self._registry.create_model_version(
            validate_model_name(name), str(source), run_id, _registry_tags(tags), description
        )

    def get_model_version(self, name: str, version) -> entities.ModelVersion:
        return self._registry.get_model_version(
            validate_model_name(name), validate_version(version)
        )

    def search_model_versions(
        self, filter_string: str | None = None, name: str | None = None
    ) -> list[entities.ModelVersion]:
        """Versions (newest first) matching `name`, `run_id`, `source`,
        `current_stage` or `tags.<k>` clauses; `name=` is a shortcut."""
        clauses = _parse_simple_filter(filter_string, ("name", "run_id", "source", "current_stage"))
        exact = name
        for field, op, value in clauses:
            if field == "name" and op == "=":
                exact = value
        versions = self._registry.search_model_versions(
            validate_model_name(exact) if exact is not None else None
        )
        if name is not None:
            versions = [v for v in versions if v.name == name]

        def getter(mv):
            return lambda f: mv.tags.get(f[5:]) if f.startswith("tags.") else getattr(mv, f)

        return [v for v in versions if _matches(getter(v), clauses)]

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[entities.ModelVersion]:
        """Per stage, the highest version in it (all stages when `stages` is empty)."""
        wanted = [canonical_stage(s) for s in stages] if stages else list(STAGES)
        best: dict[str, entities.ModelVersion] = {}
        for mv in self._registry.search_model_versions(validate_model_name(name)):
            if mv.current_stage in wanted and (
                mv.current_stage not in best or mv.version > best[mv.current_stage].version
            ):
                best[mv.current_stage] = mv
        return sorted(best.values(), key=lambda mv: mv.version)

    def update_model_version(self, name: str, version, description: str) -> entities.ModelVersion:
        return self._registry.update_model_version(
            validate_model_name(name), validate_version(version), description
        )

    def delete_model_version(self, name: str, version) -> None:
        self._registry.delete_model_version(validate_model_name(name), validate_version(version))

    def transition_model_version_stage(
        self, name: str, version, stage: str, archive_existing_versions: bool = False
    ) -> entities.ModelVersion:
        stage = canonical_stage(stage)
        validate_archive_existing(stage, archive_existing_versions)
        return self._registry.transition_model_version_stage(
            validate_model_name(name),
            validate_version(version),
            stage,
            bool(archive_existing_versions),
        )

    def set_model_version_tag(self, name: str, version, key: str, value) -> None:
        key, value = validate_registry_tag(validate_editable_version_tag(key), value)
        self._registry.set_model_version_tag(
            validate_model_name(name), validate_version(version), key, value
        )

    def delete_model_version_tag(self, name: str, version, key: str) -> None:
        self._registry.delete_model_version_tag(
            validate_model_name(name), validate_version(version), validate_editable_version_tag(key)
        )

    def set_registered_model_alias(self, name: str, alias: str, version) -> None:
        self._registry.set_registered_model_alias(
            validate_model_name(name), validate_alias(alias), validate_version(version)
        )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._registry.delete_registered_model_alias(
            validate_model_name(name), validate_alias(alias)
        )

    def get_model_version_by_alias(self, name: str, alias: str) -> entities.ModelVersion:
        return self._registry.get_model_version_by_alias(
            validate_model_name(name), validate_alias(alias)
        )


def parse_status(status: entities.RunStatus | str | int) -> entities.RunStatus:
    try:
        return entities.RunStatus.parse(status)
    except (KeyError, ValueError):
        names = ", ".join(s.name for s in entities.RunStatus)
        raise InvalidInput(f"Invalid run status '{status}': use one of {names}.") from None
