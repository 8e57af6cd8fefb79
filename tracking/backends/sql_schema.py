"""The one relational schema behind `sqlite:` and `postgresql:` stores.

SQLAlchemy Core tables (no ORM): the hot paths (log_metric, search) build a
handful of statements once and execute them with plain parameter dicts.

`SCHEMA_VERSION` is recorded in the `schema_version` table. A store created by
an older mlcadence is upgraded by the steps in `MIGRATIONS` (from-version ->
function) when it is opened; a store from a newer mlcadence is refused rather
than written with a schema we do not know.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
)

from mlcadence.tracking.errors import InvalidState

SCHEMA_VERSION = 3

# SQLite only auto-assigns ids to a column spelled exactly INTEGER PRIMARY KEY.
_AutoId = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version_num", Integer, primary_key=True, autoincrement=False),
)


def _key_value_table(name: str, *owner) -> Table:
    """A tag or param table: the owner's key columns (and constraints), then
    the key, which completes the primary key, and the value."""
    return Table(
        name,
        metadata,
        *owner,
        Column("key", String(250), primary_key=True),
        Column("value", Text, nullable=False),
    )


def _metric_point_columns() -> list[Column]:
    """What one logged metric value is, in history and in the latest table."""
    return [
        Column("value", Double),
        Column("is_nan", Boolean, nullable=False),
        Column("timestamp", BigInteger, nullable=False),
        Column("step", BigInteger, nullable=False),
    ]


# -- tracking ---------------------------------------------------------------
experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", _AutoId, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", Text),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
)

experiment_tags = _key_value_table(
    "experiment_tags",
    Column(
        "experiment_id",
        _AutoId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column(
        "experiment_id",
        _AutoId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    # As long as the `mlflow.runName` tag value it mirrors (MAX_RUN_NAME_LENGTH).
    Column("name", String(8000), nullable=False),
    Column("user_id", String(256)),
    # Status by name ('FINISHED'), as search compares it.
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("deleted_time", BigInteger),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("artifact_uri", Text),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
)


def _run_fk() -> ForeignKey:
    return ForeignKey("runs.run_id", ondelete="CASCADE")


# The primary key is what makes params write-once under concurrent writers.
params = _key_value_table("params", Column("run_id", String(32), _run_fk(), primary_key=True))

tags = _key_value_table("tags", Column("run_id", String(32), _run_fk(), primary_key=True))

# Full history, in logging order (seq). NaN is stored as value NULL with
# is_nan set: SQLite turns NaN into NULL anyway, and NULL gives NaN the
# search semantics it has in memory (never <, >, =; missing when sorting).
metrics = Table(
    "metrics",
    metadata,
    Column("seq", _AutoId, primary_key=True, autoincrement=True),
    Column("run_id", String(32), _run_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    *_metric_point_columns(),
    Index("ix_metrics_run_key", "run_id", "key"),
)

# One row per (run, key): the max by (step, timestamp, value), kept by an
# upsert on every insert so that reads and searches never scan history.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), _run_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    *_metric_point_columns(),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

# Search indexes on (key, value) of text columns. PostgreSQL's btree refuses
# entries over ~2.7 kB and params may hold 6000 characters, so there a hash
# index on the value (no size limit, equality only) does the job.
for _table in (params, tags):
    Index(f"ix_{_table.name}_key_value", _table.c.key, _table.c.value).ddl_if(dialect="sqlite")
    Index(f"ix_{_table.name}_value_hash", _table.c.value, postgresql_using="hash").ddl_if(
        dialect="postgresql"
    )

# -- model registry -----------------------------------------------------------
registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text),
)


def _model_fk() -> ForeignKey:
    return ForeignKey("registered_models.name", ondelete="CASCADE")


model_versions = Table(
    "model_versions",
    metadata,
    # (name, version) as the primary key: two writers can never both create
    # the same version, whatever the locking around them.
    Column("name", String(256), _model_fk(), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("current_stage", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("run_id", String(32)),
    Column("status", String(20), nullable=False),
    Index("ix_model_versions_stage", "name", "current_stage"),
)

registered_model_tags = _key_value_table(
    "registered_model_tags", Column("name", String(256), _model_fk(), primary_key=True)
)

model_version_tags = _key_value_table(
    "model_version_tags",
    Column("name", String(256), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    ForeignKeyConstraint(
        ["name", "version"], ["model_versions.name", "model_versions.version"], ondelete="CASCADE"
    ),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    # One version per alias: the alias is part of the key, the version is not.
    Column("name", String(256), _model_fk(), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("version", Integer, nullable=False),
)


# -- logged models (MLflow 3) ----------------------------------------------------
logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    Column(
        "experiment_id",
        _AutoId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    # MLflow's LoggedModelStatus by name ('LOGGED_MODEL_READY').
    Column("status", String(40), nullable=False),
    Column("status_message", Text),
    Column("model_type", String(500)),
    Column("source_run_id", String(32)),
    Column("lifecycle_stage", String(32), nullable=False),
    Index("ix_logged_models_experiment", "experiment_id", "creation_time"),
)


def _logged_model_fk() -> ForeignKey:
    return ForeignKey("logged_models.model_id", ondelete="CASCADE")


logged_model_tags = _key_value_table(
    "logged_model_tags", Column("model_id", String(64), _logged_model_fk(), primary_key=True)
)
logged_model_params = _key_value_table(
    "logged_model_params", Column("model_id", String(64), _logged_model_fk(), primary_key=True)
)

# One row per distinct metric record: a retried log_batch (or log_metric)
# inserts nothing twice (inserts say ON CONFLICT DO NOTHING). NaN is stored as
# value NULL, and NULLs never collide in a unique index, so the NaN case is
# keyed by is_nan with value coalesced to 0.
METRIC_IDENTITY_INDEX = "ux_metrics_identity"
metric_identity = Index(
    METRIC_IDENTITY_INDEX,
    metrics.c.run_id,
    metrics.c.key,
    metrics.c.timestamp,
    metrics.c.step,
    metrics.c.is_nan,
    func.coalesce(metrics.c.value, 0.0),
    unique=True,
)


# -- creation and migration ---------------------------------------------------
def _widen_run_names(conn: Connection) -> None:
    # Version 1 kept run names in VARCHAR(250), so a longer name (allowed up to
    # the tag limit) failed on PostgreSQL only; SQLite never enforced lengths.
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE runs ALTER COLUMN name TYPE VARCHAR(8000)"))


def _add_logged_models_and_metric_identity(conn: Connection) -> None:
    # Version 3: logged-model tables, and exact duplicate metric records
    # removed (keeping the first) before the unique index that stops new ones.
    metadata.create_all(
        conn, tables=[logged_models, logged_model_tags, logged_model_params], checkfirst=True
    )
    conn.execute(
        text(
            "DELETE FROM metrics WHERE seq NOT IN (SELECT MIN(seq) FROM metrics GROUP BY run_id, "
            "key, timestamp, step, is_nan, COALESCE(value, 0.0))"
        )
    )
    metric_identity.create(conn, checkfirst=True)


# from-version -> step that brings a store to from-version + 1; a step must be
# idempotent inside its transaction.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _widen_run_names,
    2: _add_logged_models_and_metric_identity,
}


def recorded_version(conn: Connection) -> int | None:
    """The store's schema version, or None for an empty database."""
    if not inspect(conn).has_table("schema_version"):
        return None
    return conn.execute(select(schema_version.c.version_num)).scalar()


def _refuse_foreign_tables(conn: Connection) -> None:
    """A database without our schema_version table but with tables of our
    names is another program's (MLflow's SQL store above all: its `runs` has
    `run_uuid`, not `run_id`). Creating ours beside them would leave a mix
    neither program can use, so it is refused before anything is written."""
    clash = sorted(set(inspect(conn).get_table_names()) & set(metadata.tables))
    if clash:
        mlflow = inspect(conn).has_table("alembic_version")
        whose = "MLflow's SQL store" if mlflow else "another program"
        raise InvalidState(
            f"This database already holds tables of {whose} ({', '.join(clash[:4])}), not an "
            "mlcadence store, and is left untouched. Point MLCADENCE_TRACKING_URI (or "
            "--backend-store-uri) at a new database, or serve this one with `mlflow server "
            "--backend-store-uri URI` and set MLCADENCE_TRACKING_URI=http://HOST:PORT to it."
        )


def ensure_schema(conn: Connection) -> bool:
    """Create or upgrade the schema inside the caller's (serialised)
    transaction. Returns True when the tables were created just now."""
    version = recorded_version(conn)
    if version is None:
        _refuse_foreign_tables(conn)
        metadata.create_all(conn)
        conn.execute(schema_version.insert().values(version_num=SCHEMA_VERSION))
        return True
    if version > SCHEMA_VERSION:
        raise InvalidState(
            f"The tracking database has schema version {version}, newer than this mlcadence "
            f"understands ({SCHEMA_VERSION}). Upgrade mlcadence to use this store."
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise InvalidState(
                f"No migration from tracking schema version {version}; the store cannot be "
                "upgraded by this mlcadence. Restore a backup or use a matching mlcadence."
            )
        step(conn)
        version += 1
        conn.execute(schema_version.update().values(version_num=version))
    return False


def advisory_lock_sql(dialect: str) -> str | None:
    """A statement that serialises schema creation between processes on
    servers where BEGIN IMMEDIATE does not exist."""
    return {"postgresql": "SELECT pg_advisory_xact_lock(7316204811)"}.get(dialect)


__all__ = [
    "SCHEMA_VERSION",
    "MIGRATIONS",
    "metadata",
    "schema_version",
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "metrics",
    "latest_metrics",
    "registered_models",
    "model_versions",
    "registered_model_tags",
    "model_version_tags",
    "registered_model_aliases",
    "logged_models",
    "logged_model_tags",
    "logged_model_params",
    "ensure_schema",
    "recorded_version",
    "advisory_lock_sql",
]
