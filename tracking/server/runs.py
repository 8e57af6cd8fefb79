"""Run routes: runs, their params, metrics, tags, inputs and search.

`log-inputs` and `outputs` (datasets and logged-model links) are accepted
after checking the run exists, and not stored: our stores keep no dataset
records. A logged model still names its run (`source_run_id`).
"""

from __future__ import annotations

from mlcadence.tracking import entities as e
from mlcadence.tracking.client import parse_status
from mlcadence.tracking.errors import InvalidInput
from mlcadence.tracking.server import convert
from mlcadence.tracking.server.context import ServerContext
from mlcadence.tracking.server.experiments import max_results, view_type
from mlcadence.tracking.server.request import Fields, invalid, page_offset, paginate
from mlcadence.tracking.validation import validate_run_id, validate_run_name

HISTORY_PAGE_DEFAULT = 25_000


def _run_id(f: Fields) -> str:
    return f.str("run_id", None, "run_uuid") or f.str("run_id")


def create(ctx: ServerContext, f: Fields) -> dict:
    run = ctx.client.create_run(
        f.str("experiment_id", "0"),
        run_name=f.str("run_name", None) or None,
        tags=f.key_values("tags"),
        start_time=f.int("start_time", None),
        user_id=f.str("user_id", None) or None,
    )
    return {"run": convert.run(run, ctx.present)}


def get(ctx: ServerContext, f: Fields) -> dict:
    return {"run": convert.run(ctx.client.get_run(_run_id(f)), ctx.present)}


def update(ctx: ServerContext, f: Fields) -> dict:
    status = f.str("status", None)
    info = ctx.runs.update_run(
        validate_run_id(_run_id(f)),
        None if status is None else parse_status(status),
        f.int("end_time", None),
        validate_run_name(f.str("run_name", None) or None),
    )
    return {"run_info": convert.run_info(info, ctx.present)}


def delete(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.delete_run(f.str("run_id"))
    return {}


def restore(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.restore_run(f.str("run_id"))
    return {}


def log_metric(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.log_metric(
        _run_id(f), f.str("key"), f.float("value"), f.int("timestamp"), f.int("step", 0)
    )
    return {}


def log_param(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.log_param(_run_id(f), f.str("key"), f.str("value", ""))
    return {}


def set_tag(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.set_tag(_run_id(f), f.str("key"), f.str("value", ""))
    return {}


def delete_tag(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.delete_tag(f.str("run_id"), f.str("key"))
    return {}


def _metric(item: dict, index: int) -> e.Metric:
    where = f"metrics[{index}]"
    sub = Fields(item)
    try:
        return e.Metric(
            sub.str("key"), sub.float("value"), sub.int("timestamp"), sub.int("step", 0)
        )
    except InvalidInput as exc:  # name the item, keep the field's message
        raise InvalidInput(f"{where}: {exc.message}") from None


def log_batch(ctx: ServerContext, f: Fields) -> dict:
    metrics = [_metric(item, i) for i, item in enumerate(f.objects("metrics"))]
    params = [e.Param(k, v) for k, v in _ordered_pairs(f, "params")]
    tags = [e.RunTag(k, v) for k, v in _ordered_pairs(f, "tags")]
    ctx.client.log_batch(f.str("run_id"), metrics, params, tags)
    return {}


def _ordered_pairs(f: Fields, name: str) -> list[tuple[str, str]]:
    # Not a dict: duplicate param keys must reach the Client's batch check.
    pairs = []
    for item in f.objects(name):
        key = item.get("key")
        if not isinstance(key, str):
            raise invalid(f"{name}.key", key, "a string")
        value = item.get("value")
        pairs.append((key, "" if value is None else str(value)))
    return pairs


def log_inputs(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.get_run(f.str("run_id"))  # datasets are not stored; see the module docstring
    return {}


def log_outputs(ctx: ServerContext, f: Fields) -> dict:
    ctx.client.get_run(f.str("run_id"))
    return {}


def get_metric_history(ctx: ServerContext, f: Fields) -> dict:
    run_id = f.str("run_id", None, "run_uuid") or f.str("run_id")
    history = ctx.client.get_metric_history(run_id, f.str("metric_key"))
    page = paginate(history, page_offset(f), f.int("max_results", HISTORY_PAGE_DEFAULT), "metrics")
    page["metrics"] = [convert.metric(m) for m in page["metrics"]]
    return page


def get_metric_history_bulk_interval(ctx: ServerContext, f: Fields) -> dict:
    """Each run's history of one key within [start_step, end_step], thinned
    evenly to at most max_results points per run (first and last kept)."""
    key = f.str("metric_key")
    start, end = f.int("start_step", None), f.int("end_step", None)
    limit = f.int("max_results", 320)
    out = []
    for run_id in f.list("run_ids"):
        points = [
            m
            for m in ctx.client.get_metric_history(str(run_id), key)
            if (start is None or m.step >= start) and (end is None or m.step <= end)
        ]
        points.sort(key=lambda m: (m.step, m.timestamp))
        if len(points) > limit > 1:
            last = len(points) - 1
            points = [points[round(i * last / (limit - 1))] for i in range(limit)]
        out.extend(convert.metric(m, str(run_id)) for m in points)
    return {"metrics": out}


def search(ctx: ServerContext, f: Fields) -> dict:
    offset = page_offset(f)
    limit = max_results(f)
    found = ctx.client.search_runs(
        [str(x) for x in f.list("experiment_ids")],
        f.str("filter", "") or "",
        view_type(f, "run_view_type"),
        offset + limit + 1,
        [str(x) for x in f.list("order_by")],
    )
    page = paginate(found, offset, limit, "runs")
    page["runs"] = [convert.run(r, ctx.present) for r in page["runs"]]
    return page
