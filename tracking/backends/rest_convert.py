"""MLflow's REST JSON (the protobuf JSON of `service.proto` and
`model_registry.proto`) to and from our entities.

Protobuf's JSON writes int64 fields as strings and NaN/infinities as the
strings "NaN", "Infinity", "-Infinity"; readers here accept both spellings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mlcadence.tracking import entities as e
from mlcadence.tracking.backends.rest_http import json_float

# Our view names and MLflow's ViewType enum.
VIEW_TYPES = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}

_SPECIAL_FLOATS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _int(value) -> int | None:
    return None if value is None or value == "" else int(value)


def _float(value) -> float:
    if isinstance(value, str):
        return _SPECIAL_FLOATS[value] if value in _SPECIAL_FLOATS else float(value)
    return float(value)


def tag_dict(items: Iterable[Mapping] | None) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in items or ()}


def tag_list(tags: Mapping[str, str] | Iterable[e.RunTag] | None) -> list[dict]:
    if not tags:
        return []
    pairs = tags.items() if isinstance(tags, Mapping) else ((t.key, t.value) for t in tags)
    return [{"key": k, "value": v} for k, v in pairs]


# -- to JSON ---------------------------------------------------------------------
def metric_json(metric: e.Metric) -> dict:
    return {
        "key": metric.key,
        "value": json_float(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }


def param_json(param: e.Param) -> dict:
    return {"key": param.key, "value": param.value}


# -- from JSON -------------------------------------------------------------------
def experiment(doc: Mapping) -> e.Experiment:
    return e.Experiment(
        experiment_id=str(doc["experiment_id"]),
        name=doc.get("name", ""),
        artifact_location=doc.get("artifact_location", ""),
        lifecycle_stage=doc.get("lifecycle_stage", e.ACTIVE),
        creation_time=_int(doc.get("creation_time")),
        last_update_time=_int(doc.get("last_update_time")),
        tags=tag_dict(doc.get("tags")),
    )


def run_info(doc: Mapping) -> e.RunInfo:
    return e.RunInfo(
        run_id=doc.get("run_id") or doc["run_uuid"],
        experiment_id=str(doc["experiment_id"]),
        run_name=doc.get("run_name", ""),
        user_id=doc.get("user_id", ""),
        status=e.RunStatus[doc.get("status", "RUNNING")],
        start_time=_int(doc.get("start_time")) or 0,
        end_time=_int(doc.get("end_time")),
        artifact_uri=doc.get("artifact_uri", ""),
        lifecycle_stage=doc.get("lifecycle_stage", e.ACTIVE),
    )


def run(doc: Mapping) -> e.Run:
    data = doc.get("data") or {}
    return e.Run(
        info=run_info(doc["info"]),
        data=e.RunData(
            metrics={m["key"]: _float(m["value"]) for m in data.get("metrics") or ()},
            params={p["key"]: p.get("value", "") for p in data.get("params") or ()},
            tags=tag_dict(data.get("tags")),
        ),
    )


def metric(doc: Mapping) -> e.Metric:
    return e.Metric(
        key=doc["key"],
        value=_float(doc["value"]),
        timestamp=_int(doc.get("timestamp")) or 0,
        step=_int(doc.get("step")) or 0,
    )


def model_version(doc: Mapping) -> e.ModelVersion:
    return e.ModelVersion(
        name=doc["name"],
        version=int(doc["version"]),
        creation_timestamp=_int(doc.get("creation_timestamp")) or 0,
        last_updated_timestamp=_int(doc.get("last_updated_timestamp")) or 0,
        source=doc.get("source", ""),
        run_id=doc.get("run_id") or None,
        description=doc.get("description") or None,
        current_stage=doc.get("current_stage", "None"),
        status=doc.get("status", "READY"),
        user_id=doc.get("user_id") or None,
        tags=tag_dict(doc.get("tags")),
        aliases=list(doc.get("aliases") or ()),
    )


def registered_model(doc: Mapping) -> e.RegisteredModel:
    return e.RegisteredModel(
        name=doc["name"],
        creation_timestamp=_int(doc.get("creation_timestamp")) or 0,
        last_updated_timestamp=_int(doc.get("last_updated_timestamp")) or 0,
        description=doc.get("description") or None,
        tags=tag_dict(doc.get("tags")),
        aliases={a["alias"]: int(a["version"]) for a in doc.get("aliases") or ()},
        latest_versions=[model_version(v) for v in doc.get("latest_versions") or ()],
    )


def logged_model(doc: Mapping) -> e.LoggedModel:
    info = doc.get("info") or {}
    data = doc.get("data") or {}
    return e.LoggedModel(
        model_id=info["model_id"],
        experiment_id=str(info.get("experiment_id", "")),
        name=info.get("name", ""),
        artifact_location=info.get("artifact_uri", ""),
        creation_timestamp=_int(info.get("creation_timestamp_ms")) or 0,
        last_updated_timestamp=_int(info.get("last_updated_timestamp_ms")) or 0,
        status=info.get("status", "LOGGED_MODEL_PENDING"),
        status_message=info.get("status_message") or None,
        model_type=info.get("model_type") or None,
        source_run_id=info.get("source_run_id") or None,
        tags=tag_dict(info.get("tags")),
        params={p["key"]: p.get("value", "") for p in data.get("params") or ()},
    )
