"""Logged-model routes (MLflow 3's `/mlflow/logged-models`), which
`log_model` calls: create, log params, finalize, set tags, get, search."""

from __future__ import annotations

from mlcadence.tracking import entities as e
from mlcadence.tracking.backends.base import LoggedModelStore
from mlcadence.tracking.client import _matches, _parse_simple_filter
from mlcadence.tracking.errors import InvalidInput, NotImplementedByStore
from mlcadence.tracking.server.context import ServerContext
from mlcadence.tracking.server.experiments import max_results
from mlcadence.tracking.server.request import Fields, page_offset, paginate
from mlcadence.tracking.validation import validate_experiment_id, validate_run_id

SEARCH_FIELDS = ("name", "model_id", "source_run_id", "status", "model_type")


def _store(ctx: ServerContext) -> LoggedModelStore:
    backend = ctx.runs
    if not isinstance(backend, LoggedModelStore):
        raise NotImplementedByStore(
            f"The store '{ctx.client.tracking_uri}' keeps no logged models; serve a file, "
            "sqlite: or postgresql: store."
        )
    return backend


def to_json(model: e.LoggedModel, ctx: ServerContext) -> dict:
    info = {
        "model_id": model.model_id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "creation_timestamp_ms": model.creation_timestamp,
        "last_updated_timestamp_ms": model.last_updated_timestamp,
        "artifact_uri": ctx.present(model.artifact_location),
        "status": model.status,
        "model_type": model.model_type,
        "source_run_id": model.source_run_id,
        "status_message": model.status_message,
        "tags": [{"key": k, "value": v} for k, v in model.tags.items()],
    }
    return {
        "info": {k: v for k, v in info.items() if v is not None},
        "data": {"params": [{"key": k, "value": v} for k, v in model.params.items()]},
    }


def _model_id(f: Fields) -> str:
    return validate_run_id(f.str("model_id"))


def create(ctx: ServerContext, f: Fields) -> dict:
    source_run_id = f.str("source_run_id", None) or None
    model = _store(ctx).create_logged_model(
        validate_experiment_id(f.str("experiment_id")),
        f.str("name", None) or "model",
        validate_run_id(source_run_id) if source_run_id else None,
        f.key_values("tags"),
        f.key_values("params"),
        f.str("model_type", None),
    )
    return {"model": to_json(model, ctx)}


def get(ctx: ServerContext, f: Fields) -> dict:
    model = _store(ctx).get_logged_model(_model_id(f), f.bool("allow_deleted"))
    return {"model": to_json(model, ctx)}


def finalize(ctx: ServerContext, f: Fields) -> dict:
    status = f.str("status")
    if status not in e.LOGGED_MODEL_STATUSES:
        raise InvalidInput(
            f"Invalid value {status!r} for parameter 'status': use one of "
            f"{', '.join(e.LOGGED_MODEL_STATUSES)}."
        )
    return {"model": to_json(_store(ctx).finalize_logged_model(_model_id(f), status), ctx)}


def delete(ctx: ServerContext, f: Fields) -> dict:
    _store(ctx).delete_logged_model(_model_id(f))
    return {}


def set_tags(ctx: ServerContext, f: Fields) -> dict:
    _store(ctx).set_logged_model_tags(_model_id(f), f.key_values("tags"))
    return {}


def delete_tag(ctx: ServerContext, f: Fields) -> dict:
    _store(ctx).delete_logged_model_tag(_model_id(f), f.str("tag_key"))
    return {}


def log_params(ctx: ServerContext, f: Fields) -> dict:
    _store(ctx).log_logged_model_params(_model_id(f), f.key_values("params"))
    return {}


def search(ctx: ServerContext, f: Fields) -> dict:
    """Clauses `<field> = | != | LIKE | ILIKE '<value>'` on SEARCH_FIELDS or
    `tags.<key>`, joined by AND; newest first."""
    clauses = _parse_simple_filter(f.str("filter", None), SEARCH_FIELDS)
    ids = [validate_experiment_id(str(x)) for x in f.list("experiment_ids")]

    def getter(model: e.LoggedModel):
        return lambda field: (
            model.tags.get(field[5:]) if field.startswith("tags.") else getattr(model, field)
        )

    found = [m for m in _store(ctx).list_logged_models(ids) if _matches(getter(m), clauses)]
    page = paginate(found, page_offset(f), max_results(f, 100), "models")
    page["models"] = [to_json(m, ctx) for m in page["models"]]
    return page
