"""Tracking store in SQLite or PostgreSQL (`sqlite:///path`, `postgresql://...`).

SQLAlchemy Core only, one schema (`sql_schema`), split by concern:
`sql_engine` (engines, transactions, schema setup), `sql_runs` (experiments,
runs and search, with `sql_search`) and `sql_registry` (the model registry).
"""

from __future__ import annotations

from mlcadence.tracking.backends.base import LoggedModelStore, TrackingBackend
from mlcadence.tracking.backends.sql_engine import default_artifact_root, engine_url
from mlcadence.tracking.backends.sql_logged_models import SqlLoggedModelStore
from mlcadence.tracking.backends.sql_registry import SqlRegistryStore
from mlcadence.tracking.backends.sql_runs import SqlRunStore


class SqlBackend(
    SqlRunStore, SqlRegistryStore, SqlLoggedModelStore, TrackingBackend, LoggedModelStore
):
    """The three stores over one engine."""


__all__ = ["SqlBackend", "engine_url", "default_artifact_root"]
