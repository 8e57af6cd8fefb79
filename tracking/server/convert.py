"""Our entities as MLflow's REST JSON (the proto messages' JSON form).

Field names and enum spellings are those of MLflow's `service.proto` and
`model_registry.proto`. Artifact URIs pass through `present` (see
`server.artifacts`), so a client sees `mlflow-artifacts:/...` for artifacts the
server holds.
"""

from __future__ import annotations

from collections.abc import Callable

from mlcadence.tracking import entities as e
from mlcadence.tracking.server.request import json_float

Present = Callable[[str | None], str | None]

# Our view names <-> MLflow's ViewType enum.
VIEW_TYPES = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all"}


def _pairs(mapping: dict[str, str]) -> list[dict]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def _drop_none(record: dict) -> dict:
    return {k: v for k, v in record.items() if v is not None}


def experiment(exp: e.Experiment, present: Present) -> dict:
    return _drop_none(
        {
            "experiment_id": exp.experiment_id,
            "name": exp.name,
            "artifact_location": present(exp.artifact_location),
            "lifecycle_stage": exp.lifecycle_stage,
            "creation_time": exp.creation_time,
            "last_update_time": exp.last_update_time,
            "tags": _pairs(exp.tags),
        }
    )


def run_info(info: e.RunInfo, present: Present) -> dict:
    return _drop_none(
        {
            "run_id": info.run_id,
            "run_uuid": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "user_id": info.user_id,
            "status": info.status.name,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "artifact_uri": present(info.artifact_uri),
            "lifecycle_stage": info.lifecycle_stage,
        }
    )


def run(r: e.Run, present: Present) -> dict:
    # Our RunData keeps each metric's latest value only; its timestamp and step
    # are not part of a run's summary, so they read as 0 here.
    metrics = [
        {"key": k, "value": json_float(v), "timestamp": 0, "step": 0}
        for k, v in r.data.metrics.items()
    ]
    return {
        "info": run_info(r.info, present),
        "data": {
            "metrics": metrics,
            "params": _pairs(r.data.params),
            "tags": _pairs(r.data.tags),
        },
        "inputs": {},
        "outputs": {},
    }


def metric(m: e.Metric, run_id: str | None = None) -> dict:
    out = {"key": m.key, "value": json_float(m.value), "timestamp": m.timestamp, "step": m.step}
    if run_id is not None:
        out["run_id"] = run_id
    return out


def model_version(mv: e.ModelVersion, present: Present) -> dict:
    return _drop_none(
        {
            "name": mv.name,
            "version": str(mv.version),
            "creation_timestamp": mv.creation_timestamp,
            "last_updated_timestamp": mv.last_updated_timestamp,
            "user_id": mv.user_id,
            "current_stage": mv.current_stage,
            "description": mv.description,
            "source": present(mv.source),
            "run_id": mv.run_id,
            "status": mv.status,
            "tags": _pairs(mv.tags),
            "aliases": list(mv.aliases),
            "model_id": mv.tags.get(MODEL_ID_TAG),
        }
    )


def registered_model(rm: e.RegisteredModel, present: Present) -> dict:
    return _drop_none(
        {
            "name": rm.name,
            "creation_timestamp": rm.creation_timestamp,
            "last_updated_timestamp": rm.last_updated_timestamp,
            "description": rm.description,
            "latest_versions": [model_version(v, present) for v in rm.latest_versions],
            "tags": _pairs(rm.tags),
            "aliases": [
                {"alias": alias, "version": str(version)} for alias, version in rm.aliases.items()
            ],
        }
    )


# Our model versions have no model_id column: MLflow 3's link from a version
# to its logged model is kept as this version tag (hidden from the tag list
# would break nothing, but it is plain data, so it stays visible).
MODEL_ID_TAG = "mlflow.modelId"
