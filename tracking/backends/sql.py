"""Tracking store in SQLite or PostgreSQL (`sqlite:///path`, `postgresql://...`).

Architecture
- One schema (`sql_schema`), SQLAlchemy Core only: statements for the hot
  paths are built once per backend. log_metric, the hottest, runs three
  precompiled statements on the raw driver connection.
- Every public call is ONE transaction, so nothing is ever half written.
  Writes on SQLite start with BEGIN IMMEDIATE: the write lock is taken up
  front, so concurrent writers queue on busy_timeout instead of failing on
  a lock upgrade, and read-then-write sequences (param checks, version
  numbers) are serialised across threads and processes.
- PostgreSQL runs at READ COMMITTED; races are settled by primary keys
  (params, model versions), upserts (tags, latest metrics), and a row lock
  on the registered model while a version number is chosen.
- search_runs is one SQL query (`sql_search`); params, tags and metrics are
  then loaded for the returned runs only, with IN queries.
"""

from __future__ import annotations

import os
import uuid
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    exc,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from mlcadence.tracking.backends import sql_schema as s
from mlcadence.tracking.backends.base import TrackingBackend
from mlcadence.tracking.backends.sql_search import build_search_query
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
from mlcadence.tracking.entities import (
    ACTIVE,
    DELETED,
    DELETED_STAGE,
    Experiment,
    Metric,
    ModelVersion,
    Param,
    RegisteredModel,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)
from mlcadence.tracking.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from mlcadence.tracking.search import parse_filter, parse_order_by
from mlcadence.tracking.validation import validate_key

VIEW_STAGES = {VIEW_ACTIVE: (ACTIVE,), VIEW_DELETED: (DELETED,), VIEW_ALL: (ACTIVE, DELETED)}
# Bound parameters per IN query; far below every driver's limit.
IN_CHUNK = 500
VERSION_ATTEMPTS = 3

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


class _Compiled:
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


# -- row <-> entity -----------------------------------------------------------------
def _metric_value(row) -> float:
    return float("nan") if row.is_nan else float(row.value)


def _metric_params(run_id: str, metric: Metric) -> dict:
    value = float(metric.value)
    is_nan = value != value
    return {
        "run_id": run_id,
        "key": metric.key,
        "value": None if is_nan else value,
        "is_nan": is_nan,
        "timestamp": int(metric.timestamp),
        "step": int(metric.step),
    }


def _latest_key(row: dict) -> tuple:
    # MLflow's "latest": the max of (step, timestamp, value); NaN never wins a tie.
    return (row["step"], row["timestamp"], float("nan") if row["is_nan"] else row["value"])


def _experiment_pk(experiment_id) -> int | None:
    text = str(experiment_id)
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def _run_info(row) -> RunInfo:
    return RunInfo(
        run_id=row.run_id,
        experiment_id=str(row.experiment_id),
        run_name=row.name,
        user_id=row.user_id,
        status=RunStatus[row.status],
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri,
        lifecycle_stage=row.lifecycle_stage,
    )


def _chunks(items: Sequence, size: int = IN_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlBackend(TrackingBackend):
    """TrackingBackend over SQLAlchemy Core; see the module docstring."""

    def __init__(self, uri: str, artifact_root: str | os.PathLike | None = None):
        self.uri = uri
        url = engine_url(uri)
        self.dialect = url.get_backend_name()
        self.artifact_root = default_artifact_root(url, artifact_root)
        self._engine = ENGINE_FACTORIES[self.dialect](url)
        self._writer = self._engine.execution_options(mlc_write=True)
        self._insert = DIALECT_INSERT[self.dialect]
        self._build_statements()
        self._ensure_schema()
        # A forked child must not share the parent's pooled connections.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (b := ref()) and b._engine.dispose(close=False))

    def __repr__(self) -> str:
        return f"SqlBackend({self.uri!r})"

    def close(self) -> None:
        self._engine.dispose()

    # -- plumbing ---------------------------------------------------------------
    def _write(self):
        """One write transaction (BEGIN IMMEDIATE on SQLite)."""
        return self._writer.begin()

    def _read(self):
        return self._engine.begin()

    def _build_statements(self) -> None:
        lm = s.latest_metrics
        upsert = self._insert(lm)
        newer = (upsert.excluded.step > lm.c.step) | (
            (upsert.excluded.step == lm.c.step)
            & (
                (upsert.excluded.timestamp > lm.c.timestamp)
                | (
                    (upsert.excluded.timestamp == lm.c.timestamp)
                    & (upsert.excluded.value > lm.c.value)
                )
            )
        )
        self._upsert_latest = upsert.on_conflict_do_update(
            index_elements=[lm.c.run_id, lm.c.key],
            set_={
                "value": upsert.excluded.value,
                "is_nan": upsert.excluded.is_nan,
                "timestamp": upsert.excluded.timestamp,
                "step": upsert.excluded.step,
            },
            where=newer,
        )
        self._run_stage = select(s.runs.c.lifecycle_stage).where(
            s.runs.c.run_id == bindparam("run_id")
        )
        self._insert_metric = s.metrics.insert()
        metric_binds = {
            name: bindparam(name)
            for name in ("run_id", "key", "value", "is_nan", "timestamp", "step")
        }
        dialect = self._engine.dialect
        self._raw_metric = (
            _Compiled(self._run_stage, dialect),
            _Compiled(s.metrics.insert().values(metric_binds), dialect),
            _Compiled(self._upsert_latest.values(metric_binds), dialect),
        )
        tag_insert = self._insert(s.tags)
        self._upsert_tag = tag_insert.on_conflict_do_update(
            index_elements=[s.tags.c.run_id, s.tags.c.key],
            set_={"value": tag_insert.excluded.value},
        )
        self._insert_param = self._insert(s.params).on_conflict_do_nothing(
            index_elements=[s.params.c.run_id, s.params.c.key]
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

    # -- experiments ------------------------------------------------------------
    def _experiment_row(self, conn: Connection, experiment_id: str):
        pk = _experiment_pk(experiment_id)
        row = None
        if pk is not None:
            row = conn.execute(
                select(s.experiments).where(s.experiments.c.experiment_id == pk)
            ).first()
        if row is None:
            raise NotFound(
                f"No Experiment with id={experiment_id} exists. "
                "Check the id, or list experiments to find it."
            )
        return row

    def _experiments_from_rows(self, conn: Connection, rows) -> list[Experiment]:
        ids = [row.experiment_id for row in rows]
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for chunk in _chunks(ids):
            for t in conn.execute(
                select(s.experiment_tags).where(s.experiment_tags.c.experiment_id.in_(chunk))
            ):
                tags[t.experiment_id][t.key] = t.value
        return [
            Experiment(
                experiment_id=str(row.experiment_id),
                name=row.name,
                artifact_location=row.artifact_location,
                lifecycle_stage=row.lifecycle_stage,
                creation_time=row.creation_time,
                last_update_time=row.last_update_time,
                tags=dict(tags.get(row.experiment_id, {})),
            )
            for row in rows
        ]

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        now = now_ms()
        try:
            with self._write() as conn:
                existing = conn.execute(
                    select(s.experiments.c.lifecycle_stage).where(s.experiments.c.name == name)
                ).scalar()
                if existing is not None:
                    raise self._experiment_exists(name, existing)
                new_id = conn.execute(
                    s.experiments.insert()
                    .values(
                        name=name,
                        artifact_location=None,
                        lifecycle_stage=ACTIVE,
                        creation_time=now,
                        last_update_time=now,
                    )
                    .returning(s.experiments.c.experiment_id)
                ).scalar_one()
                location = artifact_location or f"{self.artifact_root}/{new_id}"
                conn.execute(
                    update(s.experiments)
                    .where(s.experiments.c.experiment_id == new_id)
                    .values(artifact_location=location)
                )
                if tags:
                    conn.execute(
                        s.experiment_tags.insert(),
                        [{"experiment_id": new_id, "key": k, "value": v} for k, v in tags.items()],
                    )
        except exc.IntegrityError:
            # Another writer created the same name between our check and insert.
            with self._read() as conn:
                stage = conn.execute(
                    select(s.experiments.c.lifecycle_stage).where(s.experiments.c.name == name)
                ).scalar()
            raise self._experiment_exists(name, stage or ACTIVE) from None
        return str(new_id)

    @staticmethod
    def _experiment_exists(name: str, stage: str) -> AlreadyExists:
        if stage == DELETED:
            return AlreadyExists(
                f"Experiment '{name}' already exists in deleted state. You can restore the "
                "experiment, or permanently delete it from the store in order to use this "
                "experiment name again."
            )
        return AlreadyExists(f"Experiment '{name}' already exists. Choose another name.")

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._read() as conn:
            return self._experiments_from_rows(conn, [self._experiment_row(conn, experiment_id)])[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._read() as conn:
            row = conn.execute(select(s.experiments).where(s.experiments.c.name == name)).first()
            return None if row is None else self._experiments_from_rows(conn, [row])[0]

    def list_experiments(self, view: str = VIEW_ACTIVE) -> list[Experiment]:
        stages = VIEW_STAGES[view]
        with self._read() as conn:
            rows = conn.execute(
                select(s.experiments)
                .where(s.experiments.c.lifecycle_stage.in_(stages))
                .order_by(s.experiments.c.experiment_id)
            ).all()
            return self._experiments_from_rows(conn, rows)

    def delete_experiment(self, experiment_id: str) -> None:
        now = now_ms()
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise InvalidState(
                    f"Experiment {experiment_id} is already deleted. Restore it first if you "
                    "want to delete it again."
                )
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=DELETED, last_update_time=now)
            )
            conn.execute(
                update(s.runs)
                .where(
                    s.runs.c.experiment_id == row.experiment_id, s.runs.c.lifecycle_stage == ACTIVE
                )
                .values(lifecycle_stage=DELETED, deleted_time=now)
            )

    def restore_experiment(self, experiment_id: str) -> None:
        now = now_ms()
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != DELETED:
                raise InvalidState(f"Cannot restore experiment {experiment_id}: it is not deleted.")
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=ACTIVE, last_update_time=now)
            )
            conn.execute(
                update(s.runs)
                .where(s.runs.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=ACTIVE, deleted_time=None)
            )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise InvalidState(
                    f"The experiment {experiment_id} must be in the 'active' lifecycle_stage to "
                    "set tags. Restore it first."
                )
            ins = self._insert(s.experiment_tags)
            conn.execute(
                ins.values(
                    experiment_id=row.experiment_id, key=key, value=value
                ).on_conflict_do_update(
                    index_elements=[s.experiment_tags.c.experiment_id, s.experiment_tags.c.key],
                    set_={"value": ins.excluded.value},
                )
            )
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == row.experiment_id)
                .values(last_update_time=now_ms())
            )

    # -- runs -------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        run_name: str,
        tags: Sequence[RunTag] = (),
    ) -> Run:
        run_id = uuid.uuid4().hex
        tag_map = {t.key: t.value for t in tags}
        tag_map[RUN_NAME_TAG] = run_name
        with self._write() as conn:
            exp = self._experiment_row(conn, experiment_id)
            if exp.lifecycle_stage != ACTIVE:
                raise InvalidState(
                    f"Could not create run under non-active experiment with ID {experiment_id}. "
                    "Restore the experiment or use another one."
                )
            row = {
                "run_id": run_id,
                "experiment_id": exp.experiment_id,
                "name": run_name,
                "user_id": user_id,
                "status": RunStatus.RUNNING.name,
                "start_time": int(start_time),
                "end_time": None,
                "deleted_time": None,
                "lifecycle_stage": ACTIVE,
                "artifact_uri": f"{exp.artifact_location.rstrip('/')}/{run_id}/artifacts",
            }
            conn.execute(s.runs.insert(), row)
            if tag_map:
                conn.execute(
                    s.tags.insert(),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in sorted(tag_map.items())],
                )
        info = _run_info(_Row(row))
        return Run(info, RunData(tags=tag_map))

    def _active_run(self, conn: Connection, run_id: str) -> None:
        stage = conn.execute(self._run_stage, {"run_id": run_id}).scalar()
        if stage is None:
            raise self._run_not_found(run_id)
        if stage != ACTIVE:
            raise self._run_not_active(run_id)

    @staticmethod
    def _run_not_active(run_id: str) -> InvalidState:
        return InvalidState(
            f"The run {run_id} must be in the 'active' lifecycle_stage. Restore it to change it."
        )

    @staticmethod
    def _run_not_found(run_id: str) -> NotFound:
        return NotFound(f"Run with id={run_id} not found. Check the run id.")

    def _run_row(self, conn: Connection, run_id: str):
        row = conn.execute(select(s.runs).where(s.runs.c.run_id == run_id)).first()
        if row is None:
            raise self._run_not_found(run_id)
        return row

    def _run_data(self, conn: Connection, run_ids: Sequence[str]) -> dict[str, RunData]:
        """Params, tags and latest metrics of many runs in three IN queries per
        chunk, fetched with fetchall (row-by-row iteration costs more than SQL)."""
        data = {run_id: RunData() for run_id in run_ids}
        p, t, lm = s.params, s.tags, s.latest_metrics
        for chunk in _chunks(list(run_ids)):
            query = select(p.c.run_id, p.c.key, p.c.value).where(p.c.run_id.in_(chunk))
            for run_id, key, value in conn.execute(query).all():
                data[run_id].params[key] = value
            query = select(t.c.run_id, t.c.key, t.c.value).where(t.c.run_id.in_(chunk))
            for run_id, key, value in conn.execute(query).all():
                data[run_id].tags[key] = value
            query = select(lm.c.run_id, lm.c.key, lm.c.value, lm.c.is_nan).where(
                lm.c.run_id.in_(chunk)
            )
            for run_id, key, value, is_nan in conn.execute(query).all():
                data[run_id].metrics[key] = float("nan") if is_nan else float(value)
        return data

    def get_run(self, run_id: str) -> Run:
        with self._read() as conn:
            row = self._run_row(conn, run_id)
            return Run(_run_info(row), self._run_data(conn, [run_id])[run_id])

    def update_run(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        values: dict = {}
        if status is not None:
            values["status"] = RunStatus.parse(status).name
        if end_time is not None:
            values["end_time"] = int(end_time)
        if run_name:
            values["name"] = run_name
        with self._write() as conn:
            self._active_run(conn, run_id)
            if values:
                conn.execute(update(s.runs).where(s.runs.c.run_id == run_id).values(**values))
            if run_name:
                conn.execute(
                    self._upsert_tag, {"run_id": run_id, "key": RUN_NAME_TAG, "value": run_name}
                )
            return _run_info(self._run_row(conn, run_id))

    def _set_lifecycle(self, run_id: str, stage: str, deleted_time: int | None) -> None:
        with self._write() as conn:
            self._run_row(conn, run_id)
            conn.execute(
                update(s.runs)
                .where(s.runs.c.run_id == run_id)
                .values(lifecycle_stage=stage, deleted_time=deleted_time)
            )

    def delete_run(self, run_id: str) -> None:
        self._set_lifecycle(run_id, DELETED, now_ms())

    def restore_run(self, run_id: str) -> None:
        self._set_lifecycle(run_id, ACTIVE, None)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        # The hot path of training loops: one short transaction of three
        # precompiled statements on the raw driver connection (see _Compiled).
        validate_key(metric.key, "metric key")
        row = _metric_params(run_id, metric)
        stage_q, insert_q, upsert_q = self._raw_metric
        begin = RAW_BEGIN[self.dialect]
        dbapi = self._engine.raw_connection()
        try:
            cursor = dbapi.cursor()
            try:
                if begin:
                    cursor.execute(begin)
                found = stage_q.execute(cursor, row).fetchone()
                if found is None:
                    raise self._run_not_found(run_id)
                if found[0] != ACTIVE:
                    raise self._run_not_active(run_id)
                insert_q.execute(cursor, row)
                upsert_q.execute(cursor, row)
                dbapi.commit()
            except BaseException:
                dbapi.rollback()
                raise
            finally:
                cursor.close()
        finally:
            dbapi.close()  # back to the pool

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=[tag])

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        # The one check a store keeps (see base.py): keys that could name a path.
        for what, items in (("metric key", metrics), ("param key", params), ("tag key", tags)):
            for item in items:
                validate_key(item.key, what)
        param_rows = self._param_rows(run_id, params)
        # Rows sorted by key so that concurrent batches lock rows in one order.
        tag_rows = [
            {"run_id": run_id, "key": k, "value": v}
            for k, v in sorted({t.key: t.value for t in tags}.items())
        ]
        metric_rows = [_metric_params(run_id, m) for m in metrics]
        latest: dict[str, dict] = {}
        for row in metric_rows:
            best = latest.get(row["key"])
            if best is None or _latest_key(row) > _latest_key(best):
                latest[row["key"]] = row
        with self._write() as conn:
            self._active_run(conn, run_id)
            if param_rows:
                self._write_params(conn, run_id, param_rows)
            if tag_rows:
                conn.execute(self._upsert_tag, tag_rows)
                names = [r["value"] for r in tag_rows if r["key"] == RUN_NAME_TAG]
                if names:
                    conn.execute(
                        update(s.runs).where(s.runs.c.run_id == run_id).values(name=names[-1])
                    )
            if metric_rows:
                conn.execute(self._insert_metric, metric_rows)
                conn.execute(self._upsert_latest, [latest[k] for k in sorted(latest)])

    @staticmethod
    def _param_rows(run_id: str, params: Sequence[Param]) -> list[dict]:
        # Sorted by key so that concurrent batches lock rows in one order.
        return [
            {"run_id": run_id, "key": p.key, "value": p.value}
            for p in sorted(params, key=lambda p: p.key)
        ]

    def _write_params(self, conn: Connection, run_id: str, rows: list[dict]) -> None:
        # Insert-if-absent, then compare with what is stored: the primary key
        # decides between concurrent writers, and a different value aborts the
        # whole transaction (so nothing of the batch is written).
        conn.execute(self._insert_param, rows)
        wanted = {r["key"]: r["value"] for r in rows}
        stored = conn.execute(
            select(s.params.c.key, s.params.c.value).where(
                s.params.c.run_id == run_id, s.params.c.key.in_(list(wanted))
            )
        ).all()
        for key, value in stored:
            if value != wanted[key]:
                raise InvalidInput(
                    f"Changing param values is not allowed. Param with key='{key}' was already "
                    f"logged with value='{value}' for run ID='{run_id}'. Attempted logging new "
                    f"value '{wanted[key]}'. Log it under another key instead."
                )

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._write() as conn:
            self._active_run(conn, run_id)
            deleted = conn.execute(
                delete(s.tags).where(s.tags.c.run_id == run_id, s.tags.c.key == key)
            ).rowcount
            if not deleted:
                raise NotFound(f"No tag with name: {key} in run with id {run_id}.")

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        m = s.metrics
        with self._read() as conn:
            self._run_row(conn, run_id)
            rows = conn.execute(
                select(m.c.value, m.c.is_nan, m.c.timestamp, m.c.step)
                .where(m.c.run_id == run_id, m.c.key == key)
                .order_by(m.c.seq)
            ).all()
        return [Metric(key, _metric_value(r), r.timestamp, r.step) for r in rows]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view: str = VIEW_ACTIVE,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
    ) -> list[Run]:
        query = build_search_query(
            [pk for pk in map(_experiment_pk, experiment_ids) if pk is not None],
            VIEW_STAGES[view],
            parse_filter(filter_string),
            parse_order_by(list(order_by or ())),
            max_results,
            self.dialect,
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
            data = self._run_data(conn, [r.run_id for r in rows])
        return [Run(_run_info(r), data[r.run_id]) for r in rows]

    # -- model registry -------------------------------------------------------------
    def _model_row(self, conn: Connection, name: str):
        row = conn.execute(
            select(s.registered_models).where(s.registered_models.c.name == name)
        ).first()
        if row is None:
            raise NotFound(
                f"Registered Model with name={name} not found. Create it, or check the name."
            )
        return row

    def _touch_model(self, conn: Connection, name: str, now: int | None = None) -> int:
        """Bump last_updated_time; on PostgreSQL this also row-locks the model
        until commit, which serialises version allocation."""
        now = now_ms() if now is None else now
        found = conn.execute(
            update(s.registered_models)
            .where(s.registered_models.c.name == name)
            .values(last_updated_time=now)
        ).rowcount
        if not found:
            raise NotFound(
                f"Registered Model with name={name} not found. Create it, or check the name."
            )
        return now

    def _version_row(self, conn: Connection, name: str, version: int):
        mv = s.model_versions
        row = conn.execute(
            select(mv).where(
                mv.c.name == name, mv.c.version == int(version), mv.c.current_stage != DELETED_STAGE
            )
        ).first()
        if row is None:
            raise NotFound(f"Model Version (name={name}, version={version}) not found.")
        return row

    def _versions(self, conn: Connection, rows) -> list[ModelVersion]:
        """ModelVersion entities with tags and aliases, loaded per model name."""
        names = sorted({r.name for r in rows})
        tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        aliases: dict[tuple[str, int], list[str]] = defaultdict(list)
        for chunk in _chunks(names):
            t = s.model_version_tags
            for row in conn.execute(select(t).where(t.c.name.in_(chunk))):
                tags[(row.name, row.version)][row.key] = row.value
            a = s.registered_model_aliases
            for row in conn.execute(select(a).where(a.c.name.in_(chunk)).order_by(a.c.alias)):
                aliases[(row.name, row.version)].append(row.alias)
        return [
            ModelVersion(
                name=r.name,
                version=r.version,
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
                source=r.source,
                run_id=r.run_id,
                description=r.description,
                current_stage=r.current_stage,
                status=r.status,
                user_id=r.user_id,
                tags=dict(tags.get((r.name, r.version), {})),
                aliases=list(aliases.get((r.name, r.version), [])),
            )
            for r in rows
        ]

    def _models(self, conn: Connection, rows) -> list[RegisteredModel]:
        names = [r.name for r in rows]
        mv, t, a = s.model_versions, s.registered_model_tags, s.registered_model_aliases
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        aliases: dict[str, dict[str, int]] = defaultdict(dict)
        version_rows = []
        for chunk in _chunks(names):
            for row in conn.execute(select(t).where(t.c.name.in_(chunk))):
                tags[row.name][row.key] = row.value
            for row in conn.execute(select(a).where(a.c.name.in_(chunk)).order_by(a.c.alias)):
                aliases[row.name][row.alias] = row.version
            # Highest version per (model, stage), deleted ones excluded.
            best = (
                select(mv.c.name, mv.c.current_stage, func.max(mv.c.version).label("version"))
                .where(mv.c.name.in_(chunk), mv.c.current_stage != DELETED_STAGE)
                .group_by(mv.c.name, mv.c.current_stage)
                .subquery()
            )
            version_rows += conn.execute(
                select(mv)
                .join(best, (mv.c.name == best.c.name) & (mv.c.version == best.c.version))
                .order_by(mv.c.name, mv.c.version)
            ).all()
        latest: dict[str, list[ModelVersion]] = defaultdict(list)
        for version in self._versions(conn, version_rows):
            latest[version.name].append(version)
        return [
            RegisteredModel(
                name=r.name,
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
                description=r.description,
                tags=dict(tags.get(r.name, {})),
                aliases=dict(aliases.get(r.name, {})),
                latest_versions=latest.get(r.name, []),
            )
            for r in rows
        ]

    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel:
        now = now_ms()
        try:
            with self._write() as conn:
                inserted = conn.execute(
                    self._insert(s.registered_models)
                    .values(
                        name=name, creation_time=now, last_updated_time=now, description=description
                    )
                    .on_conflict_do_nothing()
                    # RETURNING, not rowcount: drivers do not report INSERT counts reliably.
                    .returning(s.registered_models.c.name)
                ).first()
                if inserted is None:
                    raise AlreadyExists(
                        f"Registered Model (name={name}) already exists. "
                        "Use it, or choose another name."
                    )
                if tags:
                    conn.execute(
                        s.registered_model_tags.insert(),
                        [{"name": name, "key": k, "value": v} for k, v in sorted(tags.items())],
                    )
                return self._models(conn, [self._model_row(conn, name)])[0]
        except exc.IntegrityError:
            raise AlreadyExists(
                f"Registered Model (name={name}) already exists. Use it, or choose another name."
            ) from None

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self._read() as conn:
            return self._models(conn, [self._model_row(conn, name)])[0]

    def list_registered_models(self) -> list[RegisteredModel]:
        with self._read() as conn:
            rows = conn.execute(
                select(s.registered_models).order_by(s.registered_models.c.name)
            ).all()
            return self._models(conn, rows)

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        with self._write() as conn:
            self._touch_model(conn, name)
            conn.execute(
                update(s.registered_models)
                .where(s.registered_models.c.name == name)
                .values(description=description)
            )
            return self._models(conn, [self._model_row(conn, name)])[0]

    def delete_registered_model(self, name: str) -> None:
        # A hard delete, as MLflow's: versions, tags and aliases go with it
        # (ON DELETE CASCADE; foreign keys are on for SQLite connections).
        with self._write() as conn:
            self._model_row(conn, name)
            conn.execute(delete(s.registered_models).where(s.registered_models.c.name == name))

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        t = s.registered_model_tags
        with self._write() as conn:
            self._touch_model(conn, name)
            ins = self._insert(t)
            conn.execute(
                ins.values(name=name, key=key, value=value).on_conflict_do_update(
                    index_elements=[t.c.name, t.c.key], set_={"value": ins.excluded.value}
                )
            )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        t = s.registered_model_tags
        with self._write() as conn:
            self._touch_model(conn, name)
            conn.execute(delete(t).where(t.c.name == name, t.c.key == key))

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        last_error: Exception | None = None
        for _ in range(VERSION_ATTEMPTS):
            try:
                return self._create_model_version_once(name, source, run_id, tags, description)
            except exc.IntegrityError as error:
                # Only reachable if the row lock was bypassed; the (name,
                # version) key refused a duplicate, so choose again.
                last_error = error
        raise InvalidState(
            f"Model Version creation error (name={name}). Error: {last_error}. Giving up after "
            f"{VERSION_ATTEMPTS} attempts; retry the registration."
        )

    def _create_model_version_once(self, name, source, run_id, tags, description) -> ModelVersion:
        mv = s.model_versions
        now = now_ms()
        with self._write() as conn:
            conn.execute(
                self._insert(s.registered_models)
                .values(name=name, creation_time=now, last_updated_time=now, description=None)
                .on_conflict_do_nothing()
            )
            # The UPDATE row-locks the model (PostgreSQL) while we pick
            # max+1; SQLite is already serialised by BEGIN IMMEDIATE. Deleted
            # versions count, so numbers are never reused.
            self._touch_model(conn, name, now)
            top = conn.execute(select(func.max(mv.c.version)).where(mv.c.name == name)).scalar()
            version = (top or 0) + 1
            conn.execute(
                mv.insert().values(
                    name=name,
                    version=version,
                    creation_time=now,
                    last_updated_time=now,
                    description=description,
                    user_id=None,
                    current_stage="None",
                    source=source,
                    run_id=run_id,
                    status="READY",
                )
            )
            if tags:
                conn.execute(
                    s.model_version_tags.insert(),
                    [
                        {"name": name, "version": version, "key": k, "value": v}
                        for k, v in sorted(tags.items())
                    ],
                )
            return self._versions(conn, [self._version_row(conn, name, version)])[0]

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        with self._read() as conn:
            return self._versions(conn, [self._version_row(conn, name, version)])[0]

    def search_model_versions(self, name: str | None = None) -> list[ModelVersion]:
        mv = s.model_versions
        query = select(mv).where(mv.c.current_stage != DELETED_STAGE)
        if name is not None:
            query = query.where(mv.c.name == name)
        query = query.order_by(mv.c.creation_time.desc(), mv.c.name, mv.c.version.desc())
        with self._read() as conn:
            return self._versions(conn, conn.execute(query).all())

    def _update_version(self, conn: Connection, name: str, version: int, **values) -> None:
        mv = s.model_versions
        now = self._touch_model(conn, name)
        conn.execute(
            update(mv)
            .where(mv.c.name == name, mv.c.version == int(version))
            .values(last_updated_time=now, **values)
        )

    def update_model_version(self, name: str, version: int, description: str) -> ModelVersion:
        with self._write() as conn:
            self._version_row(conn, name, version)
            self._update_version(conn, name, version, description=description)
            return self._versions(conn, [self._version_row(conn, name, version)])[0]

    def delete_model_version(self, name: str, version: int) -> None:
        # Soft delete: the row keeps its number so that it is never reused.
        a = s.registered_model_aliases
        with self._write() as conn:
            self._version_row(conn, name, version)
            self._update_version(conn, name, version, current_stage=DELETED_STAGE)
            conn.execute(delete(a).where(a.c.name == name, a.c.version == int(version)))

    def transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        mv = s.model_versions
        with self._write() as conn:
            self._version_row(conn, name, version)
            self._update_version(conn, name, version, current_stage=stage)
            if archive_existing_versions:
                conn.execute(
                    update(mv)
                    .where(
                        mv.c.name == name,
                        mv.c.version != int(version),
                        mv.c.current_stage == stage,
                    )
                    .values(current_stage="Archived", last_updated_time=now_ms())
                )
            return self._versions(conn, [self._version_row(conn, name, version)])[0]

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        t = s.model_version_tags
        with self._write() as conn:
            self._version_row(conn, name, version)
            self._update_version(conn, name, version)
            ins = self._insert(t)
            conn.execute(
                ins.values(
                    name=name, version=int(version), key=key, value=value
                ).on_conflict_do_update(
                    index_elements=[t.c.name, t.c.version, t.c.key],
                    set_={"value": ins.excluded.value},
                )
            )

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        t = s.model_version_tags
        with self._write() as conn:
            self._version_row(conn, name, version)
            self._update_version(conn, name, version)
            conn.execute(
                delete(t).where(t.c.name == name, t.c.version == int(version), t.c.key == key)
            )

    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None:
        a = s.registered_model_aliases
        with self._write() as conn:
            self._model_row(conn, name)
            self._version_row(conn, name, version)
            self._touch_model(conn, name)
            ins = self._insert(a)
            conn.execute(
                ins.values(name=name, alias=alias, version=int(version)).on_conflict_do_update(
                    index_elements=[a.c.name, a.c.alias], set_={"version": ins.excluded.version}
                )
            )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        a = s.registered_model_aliases
        with self._write() as conn:
            self._touch_model(conn, name)
            conn.execute(delete(a).where(a.c.name == name, a.c.alias == alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        a, mv = s.registered_model_aliases, s.model_versions
        with self._read() as conn:
            self._model_row(conn, name)
            if alias.lower() == "latest":
                version = conn.execute(
                    select(func.max(mv.c.version)).where(
                        mv.c.name == name, mv.c.current_stage != DELETED_STAGE
                    )
                ).scalar()
            else:
                version = conn.execute(
                    select(a.c.version).where(a.c.name == name, a.c.alias == alias)
                ).scalar()
            if version is None:
                raise InvalidInput(
                    f"Registered model alias {alias} not found. Set it with "
                    "set_registered_model_alias, or check the name."
                )
            return self._versions(conn, [self._version_row(conn, name, version)])[0]


class _Row:
    """Attribute access over a dict, so freshly inserted rows convert like fetched ones."""

    def __init__(self, values: dict):
        self.__dict__.update(values)


__all__ = ["SqlBackend", "engine_url", "default_artifact_root"]
