"""MLflow 3 logged models in the SQL backend (tables `logged_models`,
`logged_model_tags`, `logged_model_params`, schema version 3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, delete, exc, select, update

from mlcadence.tracking import entities as e
from mlcadence.tracking.backends import sql_schema as s
from mlcadence.tracking.backends.base import LoggedModelStore
from mlcadence.tracking.backends.file_logged_models import new_model_id
from mlcadence.tracking.backends.sql_engine import SqlStoreBase, chunks
from mlcadence.tracking.conventions import now_ms
from mlcadence.tracking.entities import ACTIVE, DELETED
from mlcadence.tracking.errors import InvalidInput, InvalidState, NotFound


def _not_found(model_id: str) -> NotFound:
    return NotFound(f"Logged model with ID '{model_id}' not found. Check the model id.")


def _experiment_pk(experiment_id) -> int | None:
    text = str(experiment_id)
    return int(text) if text.isdigit() and len(text) <= 18 else None


class SqlLoggedModelStore(SqlStoreBase, LoggedModelStore):
    def _logged_models_from_rows(self, conn: Connection, rows) -> list[e.LoggedModel]:
        ids = [r.model_id for r in rows]
        tags: dict[str, dict] = defaultdict(dict)
        params: dict[str, dict] = defaultdict(dict)
        for table, into in ((s.logged_model_tags, tags), (s.logged_model_params, params)):
            for chunk in chunks(ids):
                query = select(table.c.model_id, table.c.key, table.c.value).where(
                    table.c.model_id.in_(chunk)
                )
                for model_id, key, value in conn.execute(query).all():
                    into[model_id][key] = value
        return [
            e.LoggedModel(
                model_id=r.model_id,
                experiment_id=str(r.experiment_id),
                name=r.name,
                artifact_location=r.artifact_location,
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
                status=r.status,
                status_message=r.status_message,
                model_type=r.model_type,
                source_run_id=r.source_run_id,
                lifecycle_stage=r.lifecycle_stage,
                tags=dict(tags.get(r.model_id, {})),
                params=dict(params.get(r.model_id, {})),
            )
            for r in rows
        ]

    def _logged_model_row(self, conn: Connection, model_id: str, allow_deleted: bool = False):
        row = conn.execute(
            select(s.logged_models).where(s.logged_models.c.model_id == model_id)
        ).first()
        if row is None or (row.lifecycle_stage != ACTIVE and not allow_deleted):
            raise _not_found(model_id)
        return row

    def create_logged_model(
        self, experiment_id, name, source_run_id=None, tags=None, params=None, model_type=None
    ) -> e.LoggedModel:
        pk = _experiment_pk(experiment_id)
        model_id = new_model_id()
        now = now_ms()
        with self._write() as conn:
            exp = None
            if pk is not None:
                exp = conn.execute(
                    select(s.experiments).where(s.experiments.c.experiment_id == pk)
                ).first()
            if exp is None:
                raise NotFound(f"No Experiment with id={experiment_id} exists. Check the id.")
            if exp.lifecycle_stage != ACTIVE:
                raise InvalidState(
                    f"Cannot create a logged model in experiment {experiment_id}: it is deleted. "
                    "Restore it or use another experiment."
                )
            location = f"{exp.artifact_location.rstrip('/')}/models/{model_id}/artifacts"
            conn.execute(
                s.logged_models.insert().values(
                    model_id=model_id,
                    experiment_id=pk,
                    name=name,
                    artifact_location=location,
                    creation_time=now,
                    last_updated_time=now,
                    status="LOGGED_MODEL_PENDING",
                    model_type=model_type,
                    source_run_id=source_run_id,
                    lifecycle_stage=ACTIVE,
                )
            )
            for table, values in ((s.logged_model_tags, tags), (s.logged_model_params, params)):
                if values:
                    conn.execute(
                        table.insert(),
                        [{"model_id": model_id, "key": k, "value": v} for k, v in values.items()],
                    )
            return self._logged_models_from_rows(conn, [self._logged_model_row(conn, model_id)])[0]

    def get_logged_model(self, model_id, allow_deleted=False) -> e.LoggedModel:
        with self._read() as conn:
            return self._logged_models_from_rows(
                conn, [self._logged_model_row(conn, model_id, allow_deleted)]
            )[0]

    def _update_model(self, model_id: str, **values) -> e.LoggedModel:
        with self._write() as conn:
            self._logged_model_row(conn, model_id)
            conn.execute(
                update(s.logged_models)
                .where(s.logged_models.c.model_id == model_id)
                .values(last_updated_time=now_ms(), **values)
            )
            return self._logged_models_from_rows(
                conn, [self._logged_model_row(conn, model_id, allow_deleted=True)]
            )[0]

    def finalize_logged_model(self, model_id, status) -> e.LoggedModel:
        return self._update_model(model_id, status=status)

    def delete_logged_model(self, model_id) -> None:
        self._update_model(model_id, lifecycle_stage=DELETED)

    def set_logged_model_tags(self, model_id, tags) -> None:
        with self._write() as conn:
            self._logged_model_row(conn, model_id)
            for key, value in sorted(tags.items()):
                self._upsert(
                    conn,
                    s.logged_model_tags,
                    ("model_id", "key"),
                    model_id=model_id,
                    key=key,
                    value=value,
                )

    def delete_logged_model_tag(self, model_id, key) -> None:
        t = s.logged_model_tags
        with self._write() as conn:
            self._logged_model_row(conn, model_id)
            if not conn.execute(delete(t).where(t.c.model_id == model_id, t.c.key == key)).rowcount:
                raise NotFound(f"No tag with key '{key}' on logged model '{model_id}'.")

    def log_logged_model_params(self, model_id, params) -> None:
        p = s.logged_model_params
        try:
            with self._write() as conn:
                self._logged_model_row(conn, model_id)
                stored = dict(
                    conn.execute(select(p.c.key, p.c.value).where(p.c.model_id == model_id)).all()
                )
                new = [
                    {"model_id": model_id, "key": k, "value": v}
                    for k, v in params.items()
                    if k not in stored
                ]
                for key, value in params.items():
                    if key in stored and stored[key] != value:
                        raise InvalidInput(
                            f"Changing param values is not allowed: param '{key}' of logged "
                            f"model '{model_id}' is '{stored[key]}'. Use another key."
                        )
                if new:
                    conn.execute(p.insert(), new)
        except exc.IntegrityError:
            raise InvalidInput(
                f"A param of logged model '{model_id}' was logged concurrently; log it again."
            ) from None

    def list_logged_models(self, experiment_ids: Sequence[str]) -> list[e.LoggedModel]:
        pks = [pk for pk in map(_experiment_pk, experiment_ids) if pk is not None]
        lm = s.logged_models
        with self._read() as conn:
            rows = conn.execute(
                select(lm)
                .where(lm.c.experiment_id.in_(pks), lm.c.lifecycle_stage == ACTIVE)
                .order_by(lm.c.creation_time.desc(), lm.c.model_id)
            ).all()
            return self._logged_models_from_rows(conn, rows)
