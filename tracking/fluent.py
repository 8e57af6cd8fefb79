"""Module-level, MLflow-like tracking API with an active-run stack.

The stack lives in a ContextVar: each thread starts with no active run (as
MLflow's thread-local stack), while asyncio tasks and thread pools that copy
the caller's context (Prefect's task runners do) see the caller's run. The
stack is an immutable tuple, so readers never see it half-updated.
"""

from __future__ import annotations

import atexit
import functools
import getpass
import os
import sys
import threading
from contextvars import ContextVar
from pathlib import Path

from mlcadence.tracking import artifacts as _artifacts
from mlcadence.tracking.client import Client, parse_status
from mlcadence.tracking.conventions import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, now_ms
from mlcadence.tracking.entities import DELETED, Experiment, Metric, Param, Run, RunStatus, RunTag
from mlcadence.tracking.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from mlcadence.tracking.reaper import owner_tags
from mlcadence.tracking.tracking_uri import (
    default_experiment_name,
    env_experiment_id,
    env_run_id,
    get_tracking_uri,
    run_environment,
)
from mlcadence.tracking.validation import MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS

PARENT_RUN_TAG = "mlflow.parentRunId"
NOTE_TAG = "mlflow.note.content"

_stack: ContextVar[tuple[ActiveRun, ...]] = ContextVar("mlcadence_active_runs", default=())
_lock = threading.Lock()
# (tracking URI, experiment id) chosen by set_experiment; ignored under another URI.
_active_experiment: tuple[str, str] | None = None
_consumed_env_runs: set[str] = set()
_atexit_registered = False


class ActiveRun:
    """A run started by `start_run`; use it as a context manager.

    Leaving the block ends the run: FINISHED normally, KILLED on
    KeyboardInterrupt, FAILED on any other exception (which propagates)."""

    def __init__(self, run: Run, client: Client):
        self._run = run
        self.client = client

    @property
    def info(self):
        return self._run.info

    @property
    def data(self):
        return self._run.data

    @property
    def run_id(self) -> str:
        return self._run.info.run_id

    def __repr__(self) -> str:
        return f"<ActiveRun run_id={self.run_id} experiment_id={self.info.experiment_id}>"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _end(self, _exit_status(exc_type, exc))
        return False


def _exit_status(exc_type, exc) -> RunStatus:
    if exc_type is None:
        return RunStatus.FINISHED
    if issubclass(exc_type, KeyboardInterrupt):
        return RunStatus.KILLED
    if issubclass(exc_type, SystemExit) and getattr(exc, "code", None) in (0, None):
        return RunStatus.FINISHED
    return RunStatus.FAILED


# -- system tags ---------------------------------------------------------------
def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry and no USER variable (containers)
        return "unknown"


def _source_name() -> str:
    main = sys.argv[0] if sys.argv and sys.argv[0] else ""
    return main if main and main != "-c" else "<console>"


@functools.lru_cache(maxsize=32)
def _git_commit(start_dir: str) -> str | None:
    """HEAD's commit of the repository holding `start_dir`, read from `.git`
    files directly: a subprocess per run would cost more than the run."""
    here = Path(start_dir).absolute()
    for directory in (here, *here.parents):
        git = directory / ".git"
        if git.is_file():  # worktree / submodule: "gitdir: <path>"
            text = git.read_text(errors="replace").strip()
            if not text.startswith("gitdir:"):
                return None
            git = (directory / text.partition(":")[2].strip()).resolve()
        if git.is_dir():
            return _read_head(git)
    return None


def _read_head(git_dir: Path) -> str | None:
    try:
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head.partition(":")[2].strip()
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():
        common = (git_dir / commondir.read_text().strip()).resolve()
    for base in (git_dir, common):
        try:
            return (base / ref).read_text().strip() or None
        except OSError:
            pass
        try:
            for line in (base / "packed-refs").read_text().splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha
        except OSError:
            pass
    return None  # a repository with no commit yet


def system_tags() -> dict[str, str]:
    source = _source_name()
    tags = {
        "mlflow.user": _user(),
        "mlflow.source.name": source,
        "mlflow.source.type": "LOCAL",
        **owner_tags(),
    }
    start_dir = os.path.dirname(os.path.abspath(source)) if source != "<console>" else os.getcwd()
    commit = _git_commit(start_dir)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


# -- experiments -----------------------------------------------------------------
def _client() -> Client:
    return Client(get_tracking_uri())


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment the default for new runs, creating it by name when missing."""
    global _active_experiment
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInput(
            "Give exactly one of experiment_name or experiment_id to set_experiment()."
        )
    client = _client()
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        experiment = _get_or_create_experiment(client, experiment_name)
    if experiment.lifecycle_stage == DELETED:
        raise InvalidState(
            f"Experiment '{experiment.name}' ({experiment.experiment_id}) is deleted. Restore it "
            "with Client().restore_experiment(id) or choose another name."
        )
    with _lock:
        _active_experiment = (client.tracking_uri, experiment.experiment_id)
    return experiment


def _default_experiment_id(client: Client) -> str:
    name = default_experiment_name()
    if name:
        return _get_or_create_experiment(client, name).experiment_id
    try:
        return client.get_experiment(DEFAULT_EXPERIMENT_ID).experiment_id
    except NotFound:
        return _get_or_create_experiment(client, DEFAULT_EXPERIMENT_NAME).experiment_id


def _get_or_create_experiment(client: Client, name: str) -> Experiment:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            client.create_experiment(name)
        except AlreadyExists:
            pass  # another thread or process created it first; use theirs
        experiment = client.get_experiment_by_name(name)
    return experiment


def _experiment_for_new_run(client: Client, parent: ActiveRun | None) -> str:
    with _lock:
        chosen = _active_experiment
    if parent is not None:
        return parent.info.experiment_id
    if chosen is not None and chosen[0] == client.tracking_uri:
        return chosen[1]
    return env_experiment_id() or _default_experiment_id(client)


# -- runs ------------------------------------------------------------------------
def start_run(
    run_name: str | None = None,
    experiment_id: str | None = None,
    nested: bool = False,
    tags: dict[str, str] | None = None,
    run_id: str | None = None,
    description: str | None = None,
) -> ActiveRun:
    """Start a run (or resume `run_id`, or `MLCADENCE_RUN_ID` from the
    environment when no run is active) and make it the active run."""
    stack = _stack.get()
    if stack and not nested:
        raise InvalidState(
            f"Run with UUID {stack[-1].run_id} is already active. End it with end_run() first, "
            "or call start_run(nested=True) to start a child run."
        )
    client = _client()
    from_env = False
    if run_id is None and not stack:
        candidate = env_run_id()
        with _lock:
            if candidate and candidate not in _consumed_env_runs:
                _consumed_env_runs.add(candidate)
                run_id, from_env = candidate, True
    user_tags = dict(tags or {})
    if description is not None:
        user_tags[NOTE_TAG] = description
    if run_id is not None:
        run = _resume(client, run_id, run_name, user_tags, take_ownership=not from_env)
    else:
        parent = stack[-1] if stack else None
        exp_id = (
            str(experiment_id)
            if experiment_id is not None
            else _experiment_for_new_run(client, parent)
        )
        all_tags = {**system_tags(), **user_tags}
        if parent is not None:
            all_tags[PARENT_RUN_TAG] = parent.run_id
        run = client.create_run(exp_id, run_name=run_name, tags=all_tags)
    active = ActiveRun(run, client)
    _stack.set(stack + (active,))
    _ensure_atexit()
    return active


def _resume(client: Client, run_id: str, run_name, tags: dict, take_ownership: bool) -> Run:
    run = client.get_run(run_id)
    if run.info.lifecycle_stage == DELETED:
        raise InvalidState(
            f"Cannot resume run {run_id}: it is deleted. Restore it with Client().restore_run()."
        )
    if run.info.status != RunStatus.RUNNING or (run_name and run_name != run.info.run_name):
        client.update_run(
            run_id,
            status=RunStatus.RUNNING if run.info.status != RunStatus.RUNNING else None,
            name=run_name if run_name and run_name != run.info.run_name else None,
        )
    extra = {**(owner_tags() if take_ownership else {}), **tags}
    if extra:
        set_tags(extra, _run=ActiveRun(run, client))
    return client.get_run(run_id)


def active_run() -> ActiveRun | None:
    stack = _stack.get()
    return stack[-1] if stack else None


def end_run(status: RunStatus | str = "FINISHED") -> None:
    """End the innermost active run (no-op when none is active)."""
    stack = _stack.get()
    if stack:
        _end(stack[-1], parse_status(status))


def _end(active: ActiveRun, status: RunStatus) -> None:
    stack = _stack.get()
    if active not in stack:
        return  # already ended explicitly inside its `with` block
    index = stack.index(active)
    # Children cannot outlive their parent: end them first, innermost first.
    for child in reversed(stack[index + 1 :]):
        child.client.set_terminated(child.run_id, status)
    _stack.set(stack[:index])
    active.client.set_terminated(active.run_id, status)


def _end_all_at_exit() -> None:
    while (run := active_run()) is not None:
        try:
            _end(run, RunStatus.FINISHED)
        except Exception:  # the store may already be gone at shutdown
            _stack.set(_stack.get()[:-1])


def _ensure_atexit() -> None:
    global _atexit_registered
    with _lock:
        if not _atexit_registered:
            atexit.register(_end_all_at_exit)
            _atexit_registered = True


def _get_or_start_run() -> ActiveRun:
    return active_run() or start_run()


def run_env(run_id: str | None = None, tracking_uri: str | None = None) -> dict[str, str]:
    """Environment variables that make a subprocess log into `run_id` (the
    active run by default): MLCADENCE_* and MLFLOW_* names."""
    if run_id is None:
        current = active_run()
        if current is None:
            raise InvalidState("run_env() needs a run_id or an active run; start_run() first.")
        run_id, client = current.run_id, current.client
    else:
        client = Client(tracking_uri) if tracking_uri is not None else _client()
    run = client.get_run(run_id)
    return run_environment(run_id, run.info.experiment_id, client.tracking_uri)


# -- logging -----------------------------------------------------------------------
def log_param(key: str, value):
    run = _get_or_start_run()
    return run.client.log_param(run.run_id, key, value)


def log_params(params: dict) -> None:
    run = _get_or_start_run()
    items = [Param(k, v) for k, v in params.items()]
    for start in range(0, len(items), MAX_BATCH_PARAMS):
        run.client.log_batch(run.run_id, params=items[start : start + MAX_BATCH_PARAMS])


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    run = _get_or_start_run()
    run.client.log_metric(run.run_id, key, value, timestamp=timestamp, step=step or 0)


def log_metrics(metrics: dict, step: int | None = None, timestamp: int | None = None) -> None:
    run = _get_or_start_run()
    ts = now_ms() if timestamp is None else timestamp
    items = [Metric(k, v, ts, step or 0) for k, v in metrics.items()]
    for start in range(0, len(items), MAX_BATCH_METRICS):
        run.client.log_batch(run.run_id, metrics=items[start : start + MAX_BATCH_METRICS])


def set_tag(key: str, value) -> None:
    run = _get_or_start_run()
    run.client.set_tag(run.run_id, key, value)


def set_tags(tags: dict, _run: ActiveRun | None = None) -> None:
    run = _run or _get_or_start_run()
    items = [RunTag(k, v) for k, v in tags.items()]
    for start in range(0, len(items), MAX_BATCH_TAGS):
        run.client.log_batch(run.run_id, tags=items[start : start + MAX_BATCH_TAGS])


def log_artifact(local_path, artifact_path: str | None = None) -> str:
    run = _get_or_start_run()
    return _artifacts.log_artifact(
        run.info.artifact_uri, local_path, artifact_path, tracking_uri=run.client.tracking_uri
    )


def log_artifacts(local_dir, artifact_path: str | None = None) -> list[str]:
    run = _get_or_start_run()
    return _artifacts.log_artifacts(
        run.info.artifact_uri, local_dir, artifact_path, tracking_uri=run.client.tracking_uri
    )


def log_text(text: str, artifact_file: str) -> str:
    run = _get_or_start_run()
    return _artifacts.log_text(
        run.info.artifact_uri, text, artifact_file, tracking_uri=run.client.tracking_uri
    )


def log_dict(dictionary: dict, artifact_file: str) -> str:
    run = _get_or_start_run()
    return _artifacts.log_dict(
        run.info.artifact_uri, dictionary, artifact_file, tracking_uri=run.client.tracking_uri
    )


def get_artifact_uri(artifact_path: str | None = None) -> str:
    run = _get_or_start_run()
    uri = run.info.artifact_uri.rstrip("/")
    return f"{uri}/{artifact_path.lstrip('/')}" if artifact_path else uri


# -- reading -------------------------------------------------------------------------
def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    return _client().get_metric_history(run_id, key)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def search_runs(
    experiment_names: list[str] | None = None,
    experiment_ids: list[str] | None = None,
    filter_string: str = "",
    order_by: list[str] | None = None,
    max_results: int = 1000,
) -> list[Run]:
    """Runs of the named experiments (default: the active experiment)."""
    client = _client()
    ids = [str(e) for e in (experiment_ids or [])]
    for name in experiment_names or []:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise NotFound(
                f"Experiment '{name}' does not exist. List experiments with "
                "`mlcadence experiments list` and check the name."
            )
        ids.append(experiment.experiment_id)
    if not ids:
        current = active_run()
        ids = [current.info.experiment_id if current else _experiment_for_new_run(client, None)]
    return client.search_runs(ids, filter_string, max_results=max_results, order_by=order_by)


def reset_process_state() -> None:
    """Forget what this process chose through the fluent API (active runs,
    the active experiment, runs handed over by the environment, a URI set in
    code), without ending any run: what a fresh process or a test starts from."""
    from mlcadence.tracking.tracking_uri import set_tracking_uri

    global _active_experiment
    _stack.set(())
    with _lock:
        _active_experiment = None
        _consumed_env_runs.clear()
    set_tracking_uri(None)
