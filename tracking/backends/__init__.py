"""Backends chosen by URI scheme: the one place where configuration becomes
constructor arguments (as MLflow's store builders do).

`BUILDERS` maps a scheme to a builder taking the URI and keyword options
(`fsync`, `artifact_root`; `experiment_artifact_root`, which a tracking
server passes so that new experiments, the default one of a new store
included, get `<root>/<experiment_id>` locations on every backend; and for
`http(s)` the `token`, `retry_seconds` and `request_timeout`); each builder
picks the options its backend needs and ignores the rest. `get_backend` reads the settings when it builds, never
at import time, and backends themselves take plain arguments.

Plugins add schemes through the `mlcadence.tracking_backends` entry-point
group: the entry point names a callable `build(uri, **options)` returning a
backend (a `RunStore`, a `RegistryStore`, or both). It receives the same
options as the built-in builders and must accept (and may ignore) unknown
ones, so that a new option never breaks a plugin.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import entry_points

from mlcadence.tracking.backends.base import Store
from mlcadence.tracking.conventions import uri_scheme
from mlcadence.tracking.errors import UnsupportedBackend

ENTRY_POINT_GROUP = "mlcadence.tracking_backends"

Builder = Callable[..., Store]


# Backend modules are imported inside the builders so that choosing the file
# store never pays for SQLAlchemy.
def build_file_backend(
    uri: str, *, fsync: bool = False, experiment_artifact_root: str | None = None, **_other
) -> Store:
    from mlcadence.tracking.backends.file import FileBackend

    return FileBackend(uri, fsync=fsync, artifact_root=experiment_artifact_root)


def build_sql_backend(
    uri: str,
    *,
    artifact_root: str | None = None,
    experiment_artifact_root: str | None = None,
    **_other,
) -> Store:
    from mlcadence.tracking.backends.sql import SqlBackend

    return SqlBackend(uri, artifact_root=experiment_artifact_root or artifact_root)


def build_rest_backend(
    uri: str,
    *,
    token: str | None = None,
    retry_seconds: float = 60.0,
    request_timeout: float = 120.0,
    **_other,
) -> Store:
    from mlcadence.tracking.backends.rest import RestBackend
    from mlcadence.tracking.backends.rest_http import RetryPolicy

    return RestBackend(
        uri, token=token, retry=RetryPolicy(total_seconds=retry_seconds), timeout=request_timeout
    )


BUILDERS: dict[str, Builder] = {
    "": build_file_backend,
    "file": build_file_backend,
    "sqlite": build_sql_backend,
    "postgresql": build_sql_backend,
    "postgres": build_sql_backend,
    "postgresql+psycopg": build_sql_backend,
    "http": build_rest_backend,
    "https": build_rest_backend,
}

_cache: dict[str, Store] = {}
_lock = threading.Lock()


def backend_table() -> dict[str, Builder]:
    """Every scheme we can open: the built-in builders, then plugins."""
    table: dict[str, Builder] = dict(BUILDERS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        table[ep.name] = _plugin_builder(ep)
    return table


def _plugin_builder(ep) -> Builder:
    def build(uri: str, **options) -> Store:
        return ep.load()(uri, **options)

    return build


def backend_options() -> dict[str, object]:
    """The settings a builder may use, read now (not at import time)."""
    from mlcadence.settings import get_settings

    settings = get_settings()
    token = settings.tracking_token
    return {
        "fsync": settings.file_fsync,
        "artifact_root": settings.artifact_root,
        "token": token.get_secret_value() if token is not None else None,
        "retry_seconds": settings.tracking_retry_seconds,
        "request_timeout": settings.tracking_request_timeout,
    }


def build_backend(uri: str, **options) -> Store:
    """A new backend for `uri` built with `options` (no caching)."""
    scheme = uri_scheme(uri)
    table = backend_table()
    if scheme not in table:
        known = ", ".join(sorted(s + ":" for s in table if s))
        raise UnsupportedBackend(
            f"No tracking backend for URI '{uri}' (scheme '{scheme}'). "
            f"Use a plain path or one of: {known}; or install a plugin that "
            f"registers '{scheme}' in the '{ENTRY_POINT_GROUP}' entry-point group."
        )
    return table[scheme](uri, **options)


def get_backend(uri: str) -> Store:
    """The backend for `uri`, one instance per URI per process, built with
    the options from the settings."""
    with _lock:
        backend = _cache.get(uri)
        if backend is None:
            backend = build_backend(uri, **backend_options())
            _cache[uri] = backend
        return backend


def clear_cache() -> None:
    with _lock:
        for backend in _cache.values():
            backend.close()
        _cache.clear()
