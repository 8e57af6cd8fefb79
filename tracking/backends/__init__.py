"""Backends chosen by URI scheme through a table kept as data.

Third parties add schemes through the `mlcadence.tracking_backends`
entry-point group; each entry point names a callable taking the URI and
returning a `TrackingBackend`.
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points
from urllib.parse import urlparse

from mlcadence.tracking.backends.base import TrackingBackend
from mlcadence.tracking.errors import UnsupportedBackend

ENTRY_POINT_GROUP = "mlcadence.tracking_backends"

# scheme -> "module:factory". Imported lazily so that choosing the file store
# never pays for SQLAlchemy.
BUILTIN_BACKENDS: dict[str, str] = {
    "": "mlcadence.tracking.backends.file:FileBackend",
    "file": "mlcadence.tracking.backends.file:FileBackend",
    "sqlite": "mlcadence.tracking.backends.sql:SqlBackend",
    "postgresql": "mlcadence.tracking.backends.sql:SqlBackend",
    "postgres": "mlcadence.tracking.backends.sql:SqlBackend",
    "postgresql+psycopg": "mlcadence.tracking.backends.sql:SqlBackend",
}

_cache: dict[str, TrackingBackend] = {}
_lock = threading.Lock()


def _scheme(uri: str) -> str:
    scheme = urlparse(uri).scheme
    # A Windows drive letter or a bare relative path has no real scheme.
    return "" if len(scheme) <= 1 else scheme


def backend_table() -> dict[str, str | object]:
    table: dict[str, str | object] = dict(BUILTIN_BACKENDS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        table[ep.name] = ep
    return table


def _load_factory(target):
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)
    return target.load()


def get_backend(uri: str) -> TrackingBackend:
    """The backend for `uri`, one instance per URI per process."""
    with _lock:
        backend = _cache.get(uri)
        if backend is None:
            scheme = _scheme(uri)
            table = backend_table()
            if scheme not in table:
                known = ", ".join(sorted(s + ":" for s in table if s))
                raise UnsupportedBackend(
                    f"No tracking backend for URI '{uri}' (scheme '{scheme}'). "
                    f"Use a plain path or one of: {known}; or install a plugin that "
                    f"registers '{scheme}' in the '{ENTRY_POINT_GROUP}' entry-point group."
                )
            backend = _load_factory(table[scheme])(uri)
            _cache[uri] = backend
        return backend


def clear_cache() -> None:
    with _lock:
        for backend in _cache.values():
            backend.close()
        _cache.clear()
