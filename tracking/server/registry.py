"""Model registry routes (`/mlflow/registered-models/...`,
`/mlflow/model-versions/...`)."""

from __future__ import annotations

from mlcadence.tracking.errors import InvalidInput
from mlcadence.tracking.server import convert
from mlcadence.tracking.server.context import ServerContext
from mlcadence.tracking.server.experiments import max_results
from mlcadence.tracking.server.request import Fields, page_offset, paginate


def _model(ctx: ServerContext, rm) -> dict:
    return convert.registered_model(rm, ctx.present)


def _version(ctx: ServerContext, mv) -> dict:
    return convert.model_version(mv, ctx.present)


def _with_latest(ctx: ServerContext, rm):
    # Our stores leave latest_versions empty; MLflow lists the newest version per stage.
    if not rm.latest_versions:
        rm.latest_versions = ctx.client.get_latest_versions(rm.name)
    return rm


# -- registered models --------------------------------------------------------------
def create_model(ctx: ServerContext, f: Fields) -> dict:
    rm = ctx.client.create_registered_model(
        f.str("name"), f.key_values("tags") or None, f.str("description", None)
    )
    return {"registered_model": _model(ctx, rm)}


def get_model(ctx: ServerContext, f: Fields) -> dict:
    rm = ctx.client.get_registered_model(f.str("name"))
    return {"registered_model": _model(ctx, _with_latest(ctx, rm))}


def search_models(ctx: ServerContext, f: Fields) -> dict:
    found = ctx.client.search_registered_models(f.str("filter", None) or None)
    for clause in f.list("order_by"):
        parts = str(clause).split()
        if not parts or parts[0] not in ("name", "last_updated_timestamp", "timestamp"):
            raise InvalidInput(
                f"Invalid order_by clause '{clause}': use name or last_updated_timestamp, "
                "then ASC or DESC."
            )
    page = paginate(found, page_offset(f), max_results(f, 100), "registered_models")
    page["registered_models"] = [
        _model(ctx, _with_latest(ctx, m)) for m in page["registered_models"]
    ]
    return page


def rename_model(ctx: ServerContext, f: Fields) -> dict:
    rm = ctx.client.rename_registered_model(f.str("name"), f.str("new_name"))
    return {"registered_model": _model(ctx, rm)}


def update_model(ctx: ServerContext, f: Fields) -> dict:
    rm = ctx.client.update_registered_model(f.str("name"), f.str("description", ""))
    return {"registered_model": _model(ctx, rm)}


def delete_model(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.delete_registered_model(f.str("name"))
    return {}


def set_model_tag(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.set_registered_model_tag(f.str("name"), f.str("key"), f.str("value", ""))
    return {}


def delete_model_tag(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.delete_registered_model_tag(f.str("name"), f.str("key"))
    return {}


def set_alias(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.set_registered_model_alias(f.str("name"), f.str("alias"), f.str("version"))
    return {}


def delete_alias(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.delete_registered_model_alias(f.str("name"), f.str("alias"))
    return {}


def get_by_alias(ctx: ServerContext, f: Fields) -> dict:
    mv = ctx.client.get_model_version_by_alias(f.str("name"), f.str("alias"))
    return {"model_version": _version(ctx, mv)}


def get_latest_versions(ctx: ServerContext, f: Fields) -> dict:
    stages = [str(s) for s in f.list("stages")]
    versions = ctx.client.get_latest_versions(f.str("name"), stages or None)
    return {"model_versions": [_version(ctx, v) for v in versions]}


# -- model versions ------------------------------------------------------------------
def create_version(ctx: ServerContext, f: Fields) -> dict:
    tags = f.key_values("tags")
    model_id = f.str("model_id", None)
    if model_id:
        tags[convert.MODEL_ID_TAG] = model_id
    mv = ctx.client.create_model_version(
        f.str("name"),
        f.str("source"),
        f.str("run_id", None) or None,
        tags or None,
        f.str("description", None),
    )
    return {"model_version": _version(ctx, mv)}


def get_version(ctx: ServerContext, f: Fields) -> dict:
    mv = ctx.client.get_model_version(f.str("name"), f.str("version"))
    return {"model_version": _version(ctx, mv)}


def search_versions(ctx: ServerContext, f: Fields) -> dict:
    found = ctx.client.search_model_versions(f.str("filter", None) or None)
    page = paginate(found, page_offset(f), max_results(f, 10_000), "model_versions")
    page["model_versions"] = [_version(ctx, v) for v in page["model_versions"]]
    return page


def update_version(ctx: ServerContext, f: Fields) -> dict:
    mv = ctx.client.update_model_version(f.str("name"), f.str("version"), f.str("description", ""))
    return {"model_version": _version(ctx, mv)}


def transition_stage(ctx: ServerContext, f: Fields) -> dict:
    mv = ctx.client.transition_model_version_stage(
        f.str("name"),
        f.str("version"),
        f.str("stage"),
        f.bool("archive_existing_versions", False),
    )
    return {"model_version": _version(ctx, mv)}


def delete_version(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.delete_model_version(f.str("name"), f.str("version"))
    return {}


def set_version_tag(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.set_model_version_tag(
        f.str("name"), f.str("version"), f.str("key"), f.str("value", "")
    )
    return {}


def delete_version_tag(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.delete_model_version_tag(f.str("name"), f.str("version"), f.str("key"))
    return {}


def get_download_uri(ctx: ServerContext, f: Fields) -> dict:
    mv = ctx.client.get_model_version(f.str("name"), f.str("version"))
    return {"artifact_uri": ctx.present(mv.source)}
