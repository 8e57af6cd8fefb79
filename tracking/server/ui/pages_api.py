"""The JSON the web UI needs beyond MLflow's API, behind the same tokens:
the page's configuration and a logged model's MLmodel document (signature
and input example), which the browser would otherwise have to parse as YAML."""

from __future__ import annotations

import json

from mlcadence.tracking import artifacts as store_artifacts
from mlcadence.tracking.errors import InvalidInput, NotFound
from mlcadence.tracking.models.mlmodel import MLMODEL_FILE, parse_mlmodel
from mlcadence.tracking.server.auth import READ
from mlcadence.tracking.server.context import ServerContext
from mlcadence.tracking.server.request import Fields
from mlcadence.tracking.server.routes import JsonRoute
from mlcadence.tracking.server.run_artifacts import run_artifact_root

# An input example is a few rows; a bigger file is named, not sent.
INPUT_EXAMPLE_MAX_BYTES = 64 * 1024


def config(ctx: ServerContext, _f: Fields) -> dict:
    return {"prefect_ui_url": ctx.prefect_ui_url.rstrip("/") if ctx.prefect_ui_url else None}


def _signature_part(raw) -> list | None:
    # MLflow keeps each part of the signature as a JSON string inside the YAML.
    if raw in (None, ""):
        return None
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None


def model_document(ctx: ServerContext, f: Fields) -> dict:
    """The signature and input example of the model at artifact `path` of run `run_id`."""
    run_id = f.str("run_id")
    path = (f.str("path", "") or "").strip("/")
    if not path:
        raise InvalidInput("Missing parameter 'path': the model's artifact path, e.g. 'model'.")
    model_dir = store_artifacts.resolve(run_artifact_root(ctx, run_id), path)
    mlmodel = model_dir / MLMODEL_FILE
    if not mlmodel.is_file():
        raise NotFound(f"Run '{run_id}' has no model at artifact path '{path}' (no MLmodel file).")
    doc = parse_mlmodel(mlmodel.read_bytes(), mlmodel)
    signature = doc.get("signature") or {}
    example_info = doc.get("saved_input_example_info") or {}
    example = None
    example_file = example_info.get("artifact_path")
    if example_file:
        target = store_artifacts.resolve(model_dir, example_file)
        if target.is_file() and target.stat().st_size <= INPUT_EXAMPLE_MAX_BYTES:
            try:
                example = json.loads(target.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                example = None
    return {
        "run_id": run_id,
        "path": path,
        "flavors": sorted(doc.get("flavors") or {}),
        "signature": {
            "inputs": _signature_part(signature.get("inputs")),
            "outputs": _signature_part(signature.get("outputs")),
            "params": _signature_part(signature.get("params")),
        },
        "input_example": example,
        "input_example_path": f"{path}/{example_file}" if example_file else None,
    }


UI_ROUTES: tuple[JsonRoute, ...] = (
    JsonRoute("GET", "/ui/config", config, READ),
    JsonRoute("GET", "/ui/model", model_document, READ),
)
