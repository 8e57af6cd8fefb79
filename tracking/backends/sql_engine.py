"""SQL plumbing shared by the run and registry halves of the SQL backend:
engines per dialect, tracking URI -> SQLAlchemy URL, transactions, the
compiled hot-path statements, and the schema with its default experiment.

- Every public call is ONE transaction, so nothing is ever half written.
  Writes on SQLite start with BEGIN IMMEDIATE: the write lock is taken up
  front, so concurrent writers queue on busy_timeout instead of failing on
  a lock upgrade, and read-then-write sequences (param checks, version
  numbers) are serialised across threads and processes.
- PostgreSQL runs at READ COMMITTED; races are settled by primary keys
  (params, model versions), upserts (tags, latest metrics), and a row lock
  on the registered model while a version number is chosen.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from mlcadence.tracking.backends import sql_schema as s
from mlcadence.tracking.backends.base import Store
from mlcadence.tracking.backends.sql_search import register_sqlite_functions
from mlcadence.tracking.conventions import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    location_uri,
    now_ms,
    path_to_file_uri,
)
from mlcadence.tracking.entities import ACTIVE
from mlcadence.tracking.errors import InvalidInput

# Bound parameters per IN query; far below every driver's limit.
IN_CHUNK = 500

# Dialect-specific INSERT with ON CONFLICT support.
DIALECT_INSERT = {"sqlite": sqlite_dialect.insert, "postgresql": pg_dialect.insert}

# URI scheme -> SQLAlchemy driver name.
DRIVERS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}


# How a raw DBAPI connection opens a write transaction (psycopg opens one
# implicitly on the first statement).
RAW_BEGIN = {"sqlite": "BEGIN IMMEDIATE", "postgresql": None}


class CompiledStatement:
    """A Core statement compiled once to the driver's SQL and paramstyle, for
    the hot path that runs on the raw DBAPI connection: SQLAlchemy's per-call
    execution machinery costs several times more than SQLite's own work."""

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup) if compiled.positional else None

    def params(self, values: dict):
        return values if self.names is None else tuple(values[n] for n in self.names)

    def execute(self, cursor, values: dict):
        cursor.execute(self.sql, self.params(values))
        return cursor


# -- engines --------------------------------------------------------------------
def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # We issue BEGIN ourselves (see _sqlite_begin), so the driver must not.
    dbapi_conn.isolation_level = None
    register_sqlite_functions(dbapi_conn)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout = 60000")
    cursor.execute("PRAGMA journal_mode = WAL")
    # NORMAL in WAL mode: every commit is visible to other processes at
    # once and the file stays consistent; only the last commits before a
    # power cut may be lost (not on a process crash).
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("mlc_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_engine(url) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:"):
        # One shared connection, or every checkout would see its own empty DB.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            pool_size=8,
            max_overflow=24,
            pool_timeout=120,
            connect_args={"timeout": 60, "check_same_thread": False},
        )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _postgres_engine(url) -> Engine:
    return create_engine(
        url,
        pool_size=5,
        max_overflow=15,
        pool_timeout=60,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


ENGINE_FACTORIES = {"sqlite": _sqlite_engine, "postgresql": _postgres_engine}


def engine_url(uri: str):
    """The SQLAlchemy URL for a tracking URI: postgresql:// uses psycopg 3,
    a relative sqlite path is made absolute against the cwd."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in DRIVERS:
        raise InvalidInput(
            f"'{uri}' is not a SQL tracking URI. Use sqlite:///path/to/file.db or "
            "postgresql://user:password@host:port/database."
        )
    url = make_url(f"{DRIVERS[scheme]}://{rest}")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=str(Path(url.database).expanduser().absolute()))
    return url


def default_artifact_root(url, artifact_root: str | os.PathLike | None) -> str:
    """file:// URI under which experiment folders of artifacts are made:
    `artifact_root` when given, else mlartifacts/ beside the sqlite file (or
    in the working directory for a server database)."""
    if artifact_root is not None:
        return location_uri(os.fspath(artifact_root)).rstrip("/")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return path_to_file_uri(Path(url.database).parent / "mlartifacts")
    return path_to_file_uri(Path.cwd() / "mlartifacts")


def chunks(items: Sequence, size: int = IN_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlStoreBase(Store):
    """The engine and transactions of one SQL store; see the module docstring."""

    def __init__(self, uri: str, artifact_root: str | os.PathLike | None = None):
        self.uri = uri
        url = engine_url(uri)
        self.dialect = url.get_backend_name()
        self.artifact_root = default_artifact_root(url, artifact_root)
        self._engine = ENGINE_FACTORIES[self.dialect](url)
        self._writer = self._engine.execution_options(mlc_write=True)
        self._insert = DIALECT_INSERT[self.dialect]
        self._ensure_schema()
        # A forked child must not share the parent's pooled connections.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (b := ref()) and b._engine.dispose(close=False))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"

    def close(self) -> None:
        self._engine.dispose()

    def _write(self):
        """One write transaction (BEGIN IMMEDIATE on SQLite)."""
        return self._writer.begin()

    def _read(self):
        return self._engine.begin()

    def _upsert(self, conn: Connection, table: Table, keys: Sequence[str], **values) -> None:
        """Insert the row, or set its non-key columns when `keys` match one."""
        insert = self._insert(table)
        conn.execute(
            insert.values(**values).on_conflict_do_update(
                index_elements=[table.c[k] for k in keys],
                set_={col: insert.excluded[col] for col in values if col not in keys},
            )
        )

    def _ensure_schema(self) -> None:
        with self._engine.connect() as conn:
            if s.recorded_version(conn) == s.SCHEMA_VERSION:
                return
        with self._write() as conn:
            lock = s.advisory_lock_sql(self.dialect)
            if lock:
                conn.exec_driver_sql(lock)
            s.ensure_schema(conn)
            now = now_ms()
            conn.execute(
                self._insert(s.experiments)
                .values(
                    experiment_id=int(DEFAULT_EXPERIMENT_ID),
                    name=DEFAULT_EXPERIMENT_NAME,
                    artifact_location=f"{self.artifact_root}/{DEFAULT_EXPERIMENT_ID}",
                    lifecycle_stage=ACTIVE,
                    creation_time=now,
                    last_update_time=now,
                )
                .on_conflict_do_nothing()
            )
