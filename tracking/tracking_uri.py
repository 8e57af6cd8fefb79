"""Where tracking data lives, and the environment a run hands to subprocesses.

Resolution order (as MLflow's): the value given to `set_tracking_uri()`, then
`MLCADENCE_TRACKING_URI`, then the settings (default `./mlruns`). Like
MLflow's MLFLOW_TRACKING_URI, the variable is the process's run context and
is looked up at call time, so a changed variable takes effect at once; every
other value comes from the cached `get_settings()`. This module is the one
place in `tracking` that reads process environment variables.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from mlcadence.tracking.conventions import has_scheme, location_uri, uri_scheme

# Not settings of their own: they identify one run for one child process
# (the MLflow `MLFLOW_RUN_ID` / `MLFLOW_EXPERIMENT_ID` convention).
RUN_ID_ENV = "MLCADENCE_RUN_ID"
EXPERIMENT_ID_ENV = "MLCADENCE_EXPERIMENT_ID"
# The variables of the settings `tracking_uri` and `experiment_name`, looked
# up first at call time (see the module docstring).
TRACKING_URI_ENV = "MLCADENCE_TRACKING_URI"
EXPERIMENT_NAME_ENV = "MLCADENCE_EXPERIMENT_NAME"

_lock = threading.Lock()
_explicit_uri: str | None = None


def normalize_uri(uri: str) -> str:
    """Plain paths become absolute so a later chdir cannot move the store;
    URIs with a scheme are kept as given."""
    uri = str(uri)
    if has_scheme(uri):
        return uri
    return str(Path(uri).expanduser().absolute())


def set_tracking_uri(uri: str | os.PathLike | None) -> None:
    """Use `uri` for this process from now on; None goes back to env/default."""
    global _explicit_uri
    with _lock:
        _explicit_uri = None if uri is None else normalize_uri(os.fspath(uri))


def get_tracking_uri() -> str:
    with _lock:
        explicit = _explicit_uri
    if explicit is not None:
        return explicit
    return normalize_uri(os.environ.get(TRACKING_URI_ENV) or _settings().tracking_uri)


def default_experiment_name() -> str | None:
    return os.environ.get(EXPERIMENT_NAME_ENV) or _settings().experiment_name


def _settings():
    # Imported on first use: pydantic-settings costs ~0.2 s, which a script
    # that only imports `tracking` should not pay.
    from mlcadence.settings import get_settings

    return get_settings()


def env_run_id() -> str | None:
    return os.environ.get(RUN_ID_ENV) or None


def env_experiment_id() -> str | None:
    return os.environ.get(EXPERIMENT_ID_ENV) or None


def is_file_store_uri(uri: str) -> bool:
    return uri_scheme(uri) in ("", "file")


def mlflow_tracking_uri(uri: str) -> str:
    """The URI MLflow's client expects for the same store: a file:// URI for
    file stores (MLflow reads our layout), other URIs unchanged."""
    return location_uri(uri)


def run_environment(run_id: str, experiment_id: str, tracking_uri: str) -> dict[str, str]:
    """Variables that make a child process log into `run_id` — ours and
    MLflow's names, so an entry point written for either finds its run."""
    return {
        RUN_ID_ENV: run_id,
        TRACKING_URI_ENV: tracking_uri,
        EXPERIMENT_ID_ENV: experiment_id,
        "MLFLOW_RUN_ID": run_id,
        "MLFLOW_TRACKING_URI": mlflow_tracking_uri(tracking_uri),
        "MLFLOW_EXPERIMENT_ID": experiment_id,
    }


# -- does a store exist there? ----------------------------------------------------
def _file_store_path(uri: str) -> Path | None:
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(uri).path)) if has_scheme(uri) else Path(uri)


def _sqlite_store_path(uri: str) -> Path | None:
    # sqlite:///relative.db and sqlite:////absolute.db; in-memory stores always "exist".
    rest = uri.split(":///", 1)[1] if ":///" in uri else ""
    return Path(rest.split("?", 1)[0]) if rest and rest != ":memory:" else None


# Scheme -> where a store of that scheme keeps its data on this machine; the
# schemes not listed (servers, PostgreSQL, plugins) can only be asked.
LOCAL_STORE_PATHS = {"": _file_store_path, "file": _file_store_path, "sqlite": _sqlite_store_path}


def missing_store(uri: str) -> Path | None:
    """The local path where the store at `uri` should be, when nothing is
    there; None when it exists (or is not a local file). Read-only commands
    check this instead of letting the backend create an empty store."""
    locate = LOCAL_STORE_PATHS.get(uri_scheme(uri))
    path = locate(uri) if locate else None
    return path if path is not None and not path.exists() else None


def where_the_uri_came_from() -> str:
    """How `get_tracking_uri()` chose its answer, in words for a message."""
    with _lock:
        explicit = _explicit_uri
    if explicit is not None:
        return "set in code by set_tracking_uri()"
    if os.environ.get(TRACKING_URI_ENV):
        return f"from {TRACKING_URI_ENV}"
    return f"the default; {TRACKING_URI_ENV} is not set"


def require_existing_store(
    given: str | os.PathLike | None = None, option: str | None = "--tracking-uri"
) -> str:
    """The tracking URI to read from (`given`, else `get_tracking_uri()`),
    when a store exists there. Otherwise NotFound says where it looked, why
    there, and how to point at a store (`option`: the command's option for
    it, if any): reading must not create an empty one."""
    from mlcadence.tracking.errors import NotFound

    uri = get_tracking_uri() if given is None else normalize_uri(os.fspath(given))
    missing = missing_store(uri)
    if missing is not None:
        origin = f"given by {option}" if given is not None else where_the_uri_came_from()
        pass_option = f", pass {option}" if option else ""
        raise NotFound(
            f"no tracking store at {missing.absolute()} ({origin}). Run the command in the "
            f"folder that holds your mlruns{pass_option}, or set {TRACKING_URI_ENV} to your store "
            "(a path, sqlite:///FILE, postgresql://..., or http://HOST:PORT of `mlcadence server`)."
        )
    return uri
