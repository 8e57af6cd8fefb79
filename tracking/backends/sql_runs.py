"""The run half of the SQL backend: experiments, runs, params, metrics,
tags and search.

Statements for the hot paths are built once per store. log_metric, the
hottest, runs three precompiled statements on the raw driver connection.
search_runs is one SQL query (`sql_search`); params, tags and metrics are
then loaded for the returned runs only, with IN queries.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, delete, exc, select, update

from mlcadence.tracking import entities as e
from mlcadence.tracking.backends import sql_schema as s
from mlcadence.tracking.backends.base import RunStore
from mlcadence.tracking.backends.sql_engine import (
    RAW_BEGIN,
    CompiledStatement,
    SqlStoreBase,
    chunks,
)
from mlcadence.tracking.backends.sql_search import build_search_query
from mlcadence.tracking.conventions import (
    RUN_NAME_TAG,
    VIEW_ACTIVE,
    VIEW_ALL,
    VIEW_DELETED,
    now_ms,
)
from mlcadence.tracking.entities import ACTIVE, DELETED
from mlcadence.tracking.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from mlcadence.tracking.search import parse_filter, parse_order_by
from mlcadence.tracking.validation import validate_key

VIEW_STAGES = {VIEW_ACTIVE: (ACTIVE,), VIEW_DELETED: (DELETED,), VIEW_ALL: (ACTIVE, DELETED)}


def _metric_value(row) -> float:
    return float("nan") if row.is_nan else float(row.value)


def _metric_params(run_id: str, metric: e.Metric) -> dict:
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


def _run_info(row) -> e.RunInfo:
    return e.RunInfo(
        run_id=row.run_id,
        experiment_id=str(row.experiment_id),
        run_name=row.name,
        user_id=row.user_id,
        status=e.RunStatus[row.status],
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri,
        lifecycle_stage=row.lifecycle_stage,
    )


class _Row:
    """Attribute access over a dict, so freshly inserted rows convert like fetched ones."""

    def __init__(self, values: dict):
        self.__dict__.update(values)


class SqlRunStore(SqlStoreBase, RunStore):
    """RunStore over SQLAlchemy Core."""

    def __init__(self, uri: str, artifact_root: str | os.PathLike | None = None):
        super().__init__(uri, artifact_root)
        self._build_statements()

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
        # Exact duplicates (a retried batch) are dropped by the metrics'
        # identity index (sql_schema.metric_identity).
        self._insert_metric = self._insert(s.metrics).on_conflict_do_nothing()
        metric_binds = {
            name: bindparam(name)
            for name in ("run_id", "key", "value", "is_nan", "timestamp", "step")
        }
        dialect = self._engine.dialect
        self._raw_metric = (
            CompiledStatement(self._run_stage, dialect),
            CompiledStatement(self._insert_metric.values(metric_binds), dialect),
            CompiledStatement(self._upsert_latest.values(metric_binds), dialect),
        )
        tag_insert = self._insert(s.tags)
        self._upsert_tag = tag_insert.on_conflict_do_update(
            index_elements=[s.tags.c.run_id, s.tags.c.key],
            set_={"value": tag_insert.excluded.value},
        )
        self._insert_param = self._insert(s.params).on_conflict_do_nothing(
            index_elements=[s.params.c.run_id, s.params.c.key]
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

    def _active_experiment_row(self, conn: Connection, experiment_id: str, refusal: str):
        """The experiment's row; `refusal` is the InvalidState message when it is deleted."""
        row = self._experiment_row(conn, experiment_id)
        if row.lifecycle_stage != ACTIVE:
            raise InvalidState(refusal)
        return row

    def _experiments_from_rows(self, conn: Connection, rows) -> list[e.Experiment]:
        ids = [row.experiment_id for row in rows]
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for chunk in chunks(ids):
            for t in conn.execute(
                select(s.experiment_tags).where(s.experiment_tags.c.experiment_id.in_(chunk))
            ):
                tags[t.experiment_id][t.key] = t.value
        return [
            e.Experiment(
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

    def get_experiment(self, experiment_id: str) -> e.Experiment:
        with self._read() as conn:
            return self._experiments_from_rows(conn, [self._experiment_row(conn, experiment_id)])[0]

    def get_experiment_by_name(self, name: str) -> e.Experiment | None:
        with self._read() as conn:
            row = conn.execute(select(s.experiments).where(s.experiments.c.name == name)).first()
            return None if row is None else self._experiments_from_rows(conn, [row])[0]

    def list_experiments(self, view: str = VIEW_ACTIVE) -> list[e.Experiment]:
        stages = VIEW_STAGES[view]
        with self._read() as conn:
            rows = conn.execute(
                select(s.experiments)
                .where(s.experiments.c.lifecycle_stage.in_(stages))
                .order_by(s.experiments.c.experiment_id)
            ).all()
            return self._experiments_from_rows(conn, rows)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        try:
            with self._write() as conn:
                row = self._active_experiment_row(
                    conn,
                    experiment_id,
                    f"Cannot rename experiment {experiment_id}: it is not active. Restore it first.",
                )
                conn.execute(
                    update(s.experiments)
                    .where(s.experiments.c.experiment_id == row.experiment_id)
                    .values(name=new_name, last_update_time=now_ms())
                )
        except exc.IntegrityError:
            raise AlreadyExists(
                f"Experiment '{new_name}' already exists. Choose another name."
            ) from None

    def delete_experiment(self, experiment_id: str) -> None:
        self._move_experiment(
            experiment_id,
            DELETED,
            f"Experiment {experiment_id} is already deleted. Restore it first if you want to "
            "delete it again.",
        )

    def restore_experiment(self, experiment_id: str) -> None:
        self._move_experiment(
            experiment_id, ACTIVE, f"Cannot restore experiment {experiment_id}: it is not deleted."
        )

    def _move_experiment(self, experiment_id: str, to_stage: str, refusal: str) -> None:
        """Move an experiment and its runs from the other lifecycle stage to
        `to_stage`; runs deleted on their own are restored with it, as in MLflow."""
        from_stage = ACTIVE if to_stage == DELETED else DELETED
        now = now_ms()
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != from_stage:
                raise InvalidState(refusal)
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=to_stage, last_update_time=now)
            )
            conn.execute(
                update(s.runs)
                .where(
                    s.runs.c.experiment_id == row.experiment_id,
                    s.runs.c.lifecycle_stage == from_stage,
                )
                .values(lifecycle_stage=to_stage, deleted_time=now if to_stage == DELETED else None)
            )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        with self._write() as conn:
            row = self._active_experiment_row(
                conn,
                experiment_id,
                f"The experiment {experiment_id} must be in the 'active' lifecycle_stage to "
                "set tags. Restore it first.",
            )
            self._upsert(
                conn,
                s.experiment_tags,
                ("experiment_id", "key"),
                experiment_id=row.experiment_id,
                key=key,
                value=value,
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
        tags: Sequence[e.RunTag] = (),
    ) -> e.Run:
        run_id = uuid.uuid4().hex
        tag_map = {t.key: t.value for t in tags}
        tag_map[RUN_NAME_TAG] = run_name
        with self._write() as conn:
            exp = self._active_experiment_row(
                conn,
                experiment_id,
                f"Could not create run under non-active experiment with ID {experiment_id}. "
                "Restore the experiment or use another one.",
            )
            row = {
                "run_id": run_id,
                "experiment_id": exp.experiment_id,
                "name": run_name,
                "user_id": user_id,
                "status": e.RunStatus.RUNNING.name,
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
        return e.Run(info, e.RunData(tags=tag_map))

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

    def _run_data(self, conn: Connection, run_ids: Sequence[str]) -> dict[str, e.RunData]:
        """Params, tags and latest metrics of many runs in three IN queries per
        chunk, fetched with fetchall (row-by-row iteration costs more than SQL)."""
        data = {run_id: e.RunData() for run_id in run_ids}
        p, t, lm = s.params, s.tags, s.latest_metrics
        for chunk in chunks(list(run_ids)):
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

    def get_run(self, run_id: str) -> e.Run:
        with self._read() as conn:
            row = self._run_row(conn, run_id)
            return e.Run(_run_info(row), self._run_data(conn, [run_id])[run_id])

    def update_run(
        self,
        run_id: str,
        status: e.RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> e.RunInfo:
        values: dict = {}
        if status is not None:
            values["status"] = e.RunStatus.parse(status).name
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

    def log_metric(self, run_id: str, metric: e.Metric) -> None:
        # The hot path of training loops: one short transaction of three
        # precompiled statements on the raw driver connection (see CompiledStatement).
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

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[e.Metric] = (),
        params: Sequence[e.Param] = (),
        tags: Sequence[e.RunTag] = (),
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
    def _param_rows(run_id: str, params: Sequence[e.Param]) -> list[dict]:
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

    def get_metric_history(self, run_id: str, key: str) -> list[e.Metric]:
        m = s.metrics
        with self._read() as conn:
            self._run_row(conn, run_id)
            rows = conn.execute(
                select(m.c.value, m.c.is_nan, m.c.timestamp, m.c.step)
                .where(m.c.run_id == run_id, m.c.key == key)
                .order_by(m.c.seq)
            ).all()
        return [e.Metric(key, _metric_value(r), r.timestamp, r.step) for r in rows]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view: str = VIEW_ACTIVE,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
    ) -> list[e.Run]:
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
        return [e.Run(_run_info(r), data[r.run_id]) for r in rows]
