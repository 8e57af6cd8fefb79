"""`mlcadence store check`: find what a crash or a hand edit left in a store,
and move the half-made entries and orphans out of the readers' way.

Two kinds of check:

- the file store's layout (`_FileLayout`): an experiment, run, registered
  model or version directory without its meta.yaml, temp files and staged
  entries a killed process left behind.
- what any store holds (`_contents`): a model version whose source is gone or
  whose files no longer match the manifest pinned at registration, an alias
  naming a missing version, a logged model whose files no longer match its
  manifest, and half-saved models in (or staged next to) a run's local
  artifact directory.

Half-made entries and orphans are what a crash leaves; `repair` moves them to
`<root>/.mlc-repaired.trash/<time>/` (for artifacts outside the store root,
to that folder next to the run's artifact directory), keeping their relative
paths, so they can be inspected or moved back. Not `<root>/.trash`: MLflow
reads every folder there as a deleted experiment and its search fails on
anything else. Complete entries pointing at something wrong are reported,
never moved.

A SQL store writes each entry in one transaction, so its database holds no
half-made entries; only its local artifact directories can hold orphans.

Run it while no other process writes to the store: an entry being created
at that moment looks just like one a crash abandoned.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlcadence.tracking.artifacts import TMP_PREFIX as ARTIFACT_TMP_PREFIX
from mlcadence.tracking.artifacts import artifact_root
from mlcadence.tracking.backends.atomic import TMP_PREFIX, read_text
from mlcadence.tracking.backends.file import (
    META,
    METRICS,
    MODELS,
    RESERVED_EXPERIMENT_FOLDERS,
    STAGING,
    TRASH,
    FileBackend,
    parse_metric_lines,
)
from mlcadence.tracking.backends.file_registry import VERSION_PREFIX
from mlcadence.tracking.backends.file_yaml import load_yaml
from mlcadence.tracking.conventions import MANIFEST_DIGEST_TAG, VIEW_ALL
from mlcadence.tracking.entities import DELETED_STAGE
from mlcadence.tracking.errors import CorruptStore, TrackingError
from mlcadence.tracking.models import integrity
from mlcadence.tracking.models.saving import TMP_PREFIX as MODEL_TMP_PREFIX
from mlcadence.tracking.uris import resolve_model_uri

REPAIRED = ".mlc-repaired" + TRASH  # ends in ".trash": MLflow's listing skips it
MLMODEL = "MLmodel"


@dataclass(frozen=True)
class Problem:
    """One finding: `what` is wrong, `where` (a store-relative path, or a name
    for a SQL store), `why`. `path` is the absolute path `repair` moves; None
    for a complete entry that only a person can fix."""

    what: str
    where: str
    why: str
    path: str | None = None
    # `repair` moves `path` to <base>/.mlc-repaired.trash/<time>/<path relative to base>.
    base: str | None = None

    @property
    def repairable(self) -> bool:
        return self.path is not None

    def line(self) -> str:
        return f"{self.what}: {self.where}: {self.why}"


@dataclass
class CheckResult:
    store: str
    problems: list[Problem] = field(default_factory=list)
    # False for stores whose writes are transactions (nothing is ever half-made).
    can_half_write: bool = True


# ------------------------------------------------------------------ file layout
class _FileLayout:
    """Walks a file store's directories; `problems` collects the findings."""

    def __init__(self, store: FileBackend):
        self.store = store
        self.root = store.root
        self.problems: list[Problem] = []

    def _rel(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    def _add(self, what: str, path: str, why: str, movable: bool) -> None:
        self.problems.append(
            Problem(what, self._rel(path), why, path if movable else None, self.root)
        )

    def _orphan(self, path: str, why: str) -> None:
        what = "orphan directory" if os.path.isdir(path) else "orphan file"
        self._add(what, path, why + " (--repair moves it)", movable=True)

    def _meta(self, entry_dir: str, what: str) -> dict | None:
        """The entry's meta.yaml, or None after recording why it is unusable."""
        text = read_text(os.path.join(entry_dir, META))
        if text is None:
            self._add(
                f"half-written {what}",
                entry_dir,
                "no meta.yaml, its creation was interrupted (--repair moves it)",
                movable=True,
            )
            return None
        try:
            meta = load_yaml(text)
        except Exception as e:  # noqa: BLE001 - any YAML fault is the finding
            meta = e
        if not isinstance(meta, dict):
            self._add(
                what,
                entry_dir,
                f"meta.yaml is unreadable ({meta!r}); restore it from a backup or fix it by hand",
                movable=False,
            )
            return None
        return meta

    def _temp_leftovers(self, directory: str, prefixes: tuple[str, ...]) -> None:
        for entry in _scandir(directory):
            if entry.name.startswith(prefixes):
                self._orphan(entry.path, "left by an interrupted write")

    # ------------------------------------------------------------- top level
    def check(self) -> list[Problem]:
        for entry in _scandir(self.root):
            name = entry.name
            if name == STAGING:
                for staged in _scandir(entry.path):
                    self._orphan(staged.path, "an entry whose creation was interrupted")
            elif name == TRASH:
                for exp in _scandir(entry.path):
                    if exp.is_dir() and not exp.name.startswith("."):
                        self._experiment(exp.path)
            elif name.startswith(TMP_PREFIX):
                self._orphan(entry.path, "left by an interrupted write or delete")
            elif name == MODELS and entry.is_dir():
                self._registry(entry.path)
            elif not name.startswith(".") and entry.is_dir():
                self._experiment(entry.path)
        return self.problems

    # ------------------------------------------------------------ experiments
    def _experiment(self, exp_dir: str) -> None:
        runs = [
            e.path
            for e in _scandir(exp_dir)
            if e.is_dir()
            and not e.name.startswith(".")
            and e.name not in RESERVED_EXPERIMENT_FOLDERS
        ]
        if self._headless_but_full(exp_dir, "experiment", "runs", runs):
            return
        meta = self._meta(exp_dir, "experiment")
        if meta is None:
            return
        if str(meta.get("experiment_id")) != os.path.basename(exp_dir):
            self._add(
                "experiment",
                exp_dir,
                f"meta.yaml names experiment {meta.get('experiment_id')!r}, not its folder's; "
                "rename the folder or fix the file",
                movable=False,
            )
            return
        self._temp_leftovers(exp_dir, (TMP_PREFIX,))
        for run_dir in runs:
            self._run(run_dir)

    def _run(self, run_dir: str) -> None:
        meta = self._meta(run_dir, "run")
        if meta is None:
            return
        run_id = os.path.basename(run_dir)
        if meta.get("run_id") != run_id:
            self._add(
                "run",
                run_dir,
                f"meta.yaml names run {meta.get('run_id')!r}, not its folder's; fix the file",
                movable=False,
            )
        self._temp_leftovers(run_dir, (TMP_PREFIX,))
        metrics_dir = os.path.join(run_dir, METRICS)
        for entry in _walk_files(metrics_dir):
            try:
                parse_metric_lines(read_text(entry) or "", os.path.relpath(entry, metrics_dir))
            except CorruptStore as e:
                self._add("metric file", entry, e.message, movable=False)

    # --------------------------------------------------------------- registry
    def _registry(self, models_dir: str) -> None:
        for entry in _scandir(models_dir):
            if entry.name.startswith("."):
                # MLflow reads every folder here as a registered model.
                if entry.is_dir():
                    self._orphan(entry.path, "left by an interrupted write")
                continue
            if entry.is_dir():
                self._registered_model(entry.path)

    def _headless_but_full(self, directory: str, what: str, children: str, paths) -> bool:
        """An entry without meta.yaml that holds complete children is not a
        half-written one: report it for a hand fix, never move it."""
        if os.path.exists(os.path.join(directory, META)) or not _any_complete(paths):
            return False
        self._add(
            what,
            directory,
            f"no meta.yaml but it holds complete {children}; restore its meta.yaml by hand",
            movable=False,
        )
        return True

    def _registered_model(self, model_dir: str) -> None:
        versions = [
            e.path for e in _scandir(model_dir) if e.is_dir() and e.name.startswith(VERSION_PREFIX)
        ]
        if self._headless_but_full(model_dir, "registered model", "versions", versions):
            return
        if self._meta(model_dir, "registered model") is None:
            return
        self._temp_leftovers(model_dir, (TMP_PREFIX,))
        for version_dir in versions:
            if self._meta(version_dir, "model version") is not None:
                self._temp_leftovers(version_dir, (TMP_PREFIX,))


def _scandir(directory: str) -> list[os.DirEntry]:
    try:
        return sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _any_complete(entry_dirs: list[str]) -> bool:
    return any(os.path.isfile(os.path.join(d, META)) for d in entry_dirs)


def _walk_files(directory: str) -> Iterator[str]:
    for current, _dirs, files in os.walk(directory):
        for name in sorted(files):
            yield os.path.join(current, name)


def _walk_named(directory: str, prefix: str | tuple[str, ...]) -> Iterator[str]:
    """Paths under `directory` whose name starts with `prefix` (not descended)."""
    for current, dirs, files in os.walk(directory):
        for name in sorted(dirs + files):
            if name.startswith(prefix):
                yield os.path.join(current, name)
        dirs[:] = [d for d in dirs if not d.startswith(prefix)]


# ------------------------------------------------------------ any store's content
def _contents(client, store_root: str | None) -> list[Problem]:
    def where(path: str) -> str:
        return os.path.relpath(path, store_root) if _under(path, store_root) else path

    problems: list[Problem] = []
    registry = client.registry_store
    for rm in _registered_models(registry):
        live = {mv.version: mv for mv in registry.search_model_versions(rm.name)}
        for alias, version in sorted(rm.aliases.items()):
            if version not in live:
                problems.append(
                    Problem(
                        "model alias",
                        f"{rm.name}@{alias}",
                        f"points at version {version}, which does not exist; set it again "
                        f"with `mlcadence models alias {rm.name} {alias} <version>`",
                    )
                )
        for mv in live.values():
            if mv.current_stage == DELETED_STAGE:
                continue
            source_dir, missing = _source_dir(mv.source, client)
            if missing:
                problems.append(
                    Problem(
                        "model version",
                        f"{mv.name}/{mv.version}",
                        f"its source {mv.source!r} {missing}; re-register the model from a "
                        "source that exists, or delete this version",
                    )
                )
                continue
            pin = mv.tags.get(MANIFEST_DIGEST_TAG)
            changed = _manifest_problem(source_dir, pin) if pin else None
            if changed:
                problems.append(Problem("model version", f"{mv.name}/{mv.version}", changed))
    for model_dir in _logged_models(client.backend):
        problem = _manifest_problem(model_dir)
        if problem:
            problems.append(Problem("logged model", where(str(model_dir)), problem))
    problems += _artifact_orphans(client.backend, store_root)
    return problems


def _registered_models(registry) -> list:
    try:
        return registry.list_registered_models()
    except TrackingError:
        return []  # a store without a registry


def _source_dir(source: str, client) -> tuple[Path | None, str | None]:
    """The local directory of `source`, or None and why it cannot be found."""
    try:
        path = Path(resolve_model_uri(source, client).local_path)
    except TrackingError as e:
        return None, f"cannot be resolved ({e.message})"
    if not path.exists():
        return None, f"points at '{path}', which does not exist"
    return path, None


def _under(path: str, directory: str | None) -> bool:
    return directory is not None and os.path.commonpath([path, directory]) == directory


def _artifact_roots(run_store) -> Iterator[Path]:
    """The local artifact directory of every run, deleted ones included."""
    ids = [e.experiment_id for e in run_store.list_experiments(VIEW_ALL)]
    if not ids:
        return
    for run in run_store.search_runs(ids, "", VIEW_ALL, max_results=sys.maxsize):
        try:
            yield artifact_root(run.info.artifact_uri or "")
        except TrackingError:
            continue  # a remote artifact location: not ours to read


def _artifact_orphans(run_store, store_root: str | None) -> list[Problem]:
    """Saves a killed process abandoned: inside a run's artifact directory
    (MLflow lists hidden names there) or staged next to it by log_model."""
    problems = []
    for root in _artifact_roots(run_store):
        staged = [e.path for e in _scandir(str(root.parent)) if e.name.startswith(MODEL_TMP_PREFIX)]
        leftovers = _walk_named(str(root), (MODEL_TMP_PREFIX, ARTIFACT_TMP_PREFIX))
        for path in [*leftovers, *staged]:
            base = store_root if _under(path, store_root) else str(root.parent)
            where = os.path.relpath(path, store_root) if base == store_root else path
            what = "orphan directory" if os.path.isdir(path) else "orphan file"
            why = "a model or artifact whose save was interrupted (--repair moves it)"
            problems.append(Problem(what, where, why, path, base))
    return problems


def _logged_models(run_store) -> Iterator[Path]:
    """Model directories (holding an MLmodel) in every run's local artifacts."""
    for root in _artifact_roots(run_store):
        for current, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(MODEL_TMP_PREFIX))
            if MLMODEL in files:
                yield Path(current)


def _manifest_problem(model_dir: Path, pinned_sha256: str | None = None) -> str | None:
    """Why the model's files do not match its manifest (and the registry's
    pin of that manifest, when given), or None."""
    if pinned_sha256 is None and not integrity.has_manifest(model_dir):
        return None  # saved without one (e.g. by MLflow): nothing to verify
    try:
        integrity.open_verified(model_dir, pinned_sha256).check_rest(set())
    except TrackingError as e:
        return e.message
    return None


# ---------------------------------------------------------------- entry points
def check_store(client) -> CheckResult:
    """Every problem in the store behind `client` (a tracking.Client)."""
    store = client.backend
    if isinstance(store, FileBackend):
        problems = _FileLayout(store).check() + _contents(client, store.root)
        return CheckResult(store.root, problems, can_half_write=True)
    return CheckResult(client.tracking_uri, _contents(client, None), can_half_write=False)


def repair(result: CheckResult) -> list[tuple[Problem, str]]:
    """Move every repairable problem of `result` into its repair folder;
    returns (problem, new path: store-relative when inside the store) for
    each move."""
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S%fZ")
    moved = []
    # No walk descends into what it reports, so no problem lies inside another's path.
    for problem in result.problems:
        if not problem.repairable or not os.path.lexists(problem.path):
            continue  # for a person to fix, or gone since the check
        rel = os.path.relpath(problem.path, problem.base)
        target = os.path.join(problem.base, REPAIRED, stamp, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(problem.path, target)
        shown = os.path.join(REPAIRED, stamp, rel) if problem.base == result.store else target
        moved.append((problem, shown))
    return moved
