"""The registry half of the SQL backend: registered models, versions,
their tags and aliases. A version number is chosen as max + 1 while the
registered model's row is locked (PostgreSQL) or under BEGIN IMMEDIATE
(SQLite); deleted versions keep their rows so that numbers are never reused.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, delete, exc, func, select, update

from mlcadence.tracking import entities as e
from mlcadence.tracking.backends import sql_schema as s
from mlcadence.tracking.backends.base import RegistryStore
from mlcadence.tracking.backends.sql_engine import SqlStoreBase, chunks
from mlcadence.tracking.conventions import now_ms
from mlcadence.tracking.entities import DELETED_STAGE
from mlcadence.tracking.errors import AlreadyExists, InvalidInput, InvalidState, NotFound

VERSION_ATTEMPTS = 3


def _model_not_found(name: str) -> NotFound:
    return NotFound(
        f"Registered Model with name={name} not found. `mlcadence models list` shows the "
        f"registered models; `mlcadence train --register-as {name}` registers one."
    )


class SqlRegistryStore(SqlStoreBase, RegistryStore):
    """RegistryStore over SQLAlchemy Core."""

    def _model_row(self, conn: Connection, name: str):
        row = conn.execute(
            select(s.registered_models).where(s.registered_models.c.name == name)
        ).first()
        if row is None:
            raise _model_not_found(name)
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
            raise _model_not_found(name)
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

    def _versions(self, conn: Connection, rows) -> list[e.ModelVersion]:
        """ModelVersion entities with tags and aliases, loaded per model name."""
        names = sorted({r.name for r in rows})
        tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        aliases: dict[tuple[str, int], list[str]] = defaultdict(list)
        for row in _rows_named(conn, s.model_version_tags, names):
            tags[(row.name, row.version)][row.key] = row.value
        for row in _rows_named(conn, s.registered_model_aliases, names, by="alias"):
            aliases[(row.name, row.version)].append(row.alias)
        return [
            e.ModelVersion(
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

    def _models(self, conn: Connection, rows) -> list[e.RegisteredModel]:
        names = [r.name for r in rows]
        mv, t, a = s.model_versions, s.registered_model_tags, s.registered_model_aliases
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        aliases: dict[str, dict[str, int]] = defaultdict(dict)
        for row in _rows_named(conn, t, names):
            tags[row.name][row.key] = row.value
        for row in _rows_named(conn, a, names, by="alias"):
            aliases[row.name][row.alias] = row.version
        version_rows = []
        for chunk in chunks(names):
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
        latest: dict[str, list[e.ModelVersion]] = defaultdict(list)
        for version in self._versions(conn, version_rows):
            latest[version.name].append(version)
        return [
            e.RegisteredModel(
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
    ) -> e.RegisteredModel:
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

    def get_registered_model(self, name: str) -> e.RegisteredModel:
        with self._read() as conn:
            return self._models(conn, [self._model_row(conn, name)])[0]

    def list_registered_models(self) -> list[e.RegisteredModel]:
        with self._read() as conn:
            rows = conn.execute(
                select(s.registered_models).order_by(s.registered_models.c.name)
            ).all()
            return self._models(conn, rows)

    def update_registered_model(self, name: str, description: str) -> e.RegisteredModel:
        with self._write() as conn:
            self._touch_model(conn, name)
            conn.execute(
                update(s.registered_models)
                .where(s.registered_models.c.name == name)
                .values(description=description)
            )
            return self._models(conn, [self._model_row(conn, name)])[0]

    def rename_registered_model(self, name: str, new_name: str) -> e.RegisteredModel:
        # The name is the key every child row refers to, so the model is
        # copied under the new name, its children moved, and the old row
        # dropped, in one transaction.
        rm, mv, mvt = s.registered_models, s.model_versions, s.model_version_tags
        try:
            with self._write() as conn:
                row = self._model_row(conn, name)
                values = dict(row._mapping, name=new_name, last_updated_time=now_ms())
                conn.execute(rm.insert().values(**values))
                versions = conn.execute(select(mv).where(mv.c.name == name)).all()
                if versions:
                    conn.execute(mv.insert(), [dict(v._mapping, name=new_name) for v in versions])
                conn.execute(update(mvt).where(mvt.c.name == name).values(name=new_name))
                conn.execute(delete(mv).where(mv.c.name == name))
                for table in (s.registered_model_tags, s.registered_model_aliases):
                    conn.execute(update(table).where(table.c.name == name).values(name=new_name))
                conn.execute(delete(rm).where(rm.c.name == name))
        except exc.IntegrityError:
            raise AlreadyExists(
                f"Registered Model (name={new_name}) already exists. Choose another name."
            ) from None
        return self.get_registered_model(new_name)

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
            self._upsert(conn, t, ("name", "key"), name=name, key=key, value=value)

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
    ) -> e.ModelVersion:
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

    def _create_model_version_once(self, name, source, run_id, tags, description) -> e.ModelVersion:
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

    def get_model_version(self, name: str, version: int) -> e.ModelVersion:
        with self._read() as conn:
            return self._versions(conn, [self._version_row(conn, name, version)])[0]

    def search_model_versions(self, name: str | None = None) -> list[e.ModelVersion]:
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

    def update_model_version(self, name: str, version: int, description: str) -> e.ModelVersion:
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
    ) -> e.ModelVersion:
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
            self._upsert(
                conn,
                t,
                ("name", "version", "key"),
                name=name,
                version=int(version),
                key=key,
                value=value,
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
            self._upsert(conn, a, ("name", "alias"), name=name, alias=alias, version=int(version))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        a = s.registered_model_aliases
        with self._write() as conn:
            self._touch_model(conn, name)
            conn.execute(delete(a).where(a.c.name == name, a.c.alias == alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> e.ModelVersion:
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
                    f"`mlcadence models alias {name} {alias} VERSION`."
                )
            return self._versions(conn, [self._version_row(conn, name, version)])[0]


def _rows_named(conn: Connection, table, names, by: str | None = None):
    """Rows of `table` whose `name` is one of `names`, queried in chunks the
    database accepts, ordered by column `by` within each chunk."""
    for chunk in chunks(names):
        query = select(table).where(table.c.name.in_(chunk))
        yield from conn.execute(query if by is None else query.order_by(table.c[by]))
