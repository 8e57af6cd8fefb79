"""Experiment routes (`/mlflow/experiments/...`)."""

from __future__ import annotations

from mlcadence.tracking.errors import InvalidInput, NotFound
from mlcadence.tracking.server import convert
from mlcadence.tracking.server.context import ServerContext
from mlcadence.tracking.server.request import Fields, page_offset, paginate

MAX_RESULTS_DEFAULT = 1000
MAX_RESULTS_LIMIT = 50_000


def view_type(fields: Fields, name: str) -> str:
    value = fields.str(name, "ACTIVE_ONLY")
    if value in convert.VIEW_TYPES:
        return convert.VIEW_TYPES[value]
    if str(value).isdigit():  # the enum's number, as some clients send it
        by_number = {"1": "active", "2": "deleted", "3": "all"}
        if value in by_number:
            return by_number[value]
    raise InvalidInput(
        f"Invalid value {value!r} for parameter '{name}': use ACTIVE_ONLY, DELETED_ONLY or ALL."
    )


def max_results(fields: Fields, default: int = MAX_RESULTS_DEFAULT) -> int:
    value = fields.int("max_results", default)
    if value < 1 or value > MAX_RESULTS_LIMIT:
        raise InvalidInput(
            f"Invalid value {value} for parameter 'max_results': use 1 to {MAX_RESULTS_LIMIT}."
        )
    return value


def create(ctx: ServerContext, f: Fields) -> dict:
    experiment_id = ctx.client.create_experiment(
        f.str("name"), f.str("artifact_location", None) or None, f.key_values("tags") or None
    )
    return {"experiment_id": experiment_id}


def get(ctx: ServerContext, f: Fields) -> dict:
    exp = ctx.client.get_experiment(f.str("experiment_id"))
    return {"experiment": convert.experiment(exp, ctx.present)}


def get_by_name(ctx: ServerContext, f: Fields) -> dict:
    name = f.str("experiment_name")
    exp = ctx.client.get_experiment_by_name(name)
    if exp is None:
        raise NotFound(f"Could not find experiment with name '{name}'.")
    return {"experiment": convert.experiment(exp, ctx.present)}


def search(ctx: ServerContext, f: Fields) -> dict:
    found = ctx.client.search_experiments(view_type(f, "view_type"), None, f.str("filter", None))
    order = f.list("order_by")
    if order:
        found = _ordered(found, order)
    page = paginate(found, page_offset(f), max_results(f), "experiments")
    page["experiments"] = [convert.experiment(e, ctx.present) for e in page["experiments"]]
    return page


_ORDER_FIELDS = {
    "name": lambda e: e.name,
    "experiment_id": lambda e: e.experiment_id,
    "creation_time": lambda e: e.creation_time or 0,
    "last_update_time": lambda e: e.last_update_time or 0,
}


def _ordered(experiments: list, order_by: list) -> list:
    ordered = list(experiments)
    for clause in reversed(order_by):
        parts = str(clause).split()
        field = parts[0].replace("attributes.", "") if parts else ""
        direction = parts[1].upper() if len(parts) > 1 else "ASC"
        if field not in _ORDER_FIELDS or direction not in ("ASC", "DESC") or len(parts) > 2:
            raise InvalidInput(
                f"Invalid order_by clause '{clause}': use one of {sorted(_ORDER_FIELDS)} "
                "followed by ASC or DESC."
            )
        ordered.sort(key=_ORDER_FIELDS[field], reverse=direction == "DESC")
    return ordered


def update(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.rename_experiment(f.str("experiment_id"), f.str("new_name"))
    return {}


def delete(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.delete_experiment(f.str("experiment_id"))
    return {}


def restore(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.restore_experiment(f.str("experiment_id"))
    return {}


def set_tag(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.set_experiment_tag(f.str("experiment_id"), f.str("key"), f.str("value", ""))
    return {}
