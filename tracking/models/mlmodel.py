"""The `MLmodel` file: MLflow's YAML description of a saved model.

Written like MLflow's `Model.save` (`yaml.safe_dump`, block style, sorted
keys). We write the `python_function` flavor with `loader_module:
mlflow.sklearn`, so `mlflow.pyfunc.load_model` loads our models, and our own
`mlcadence_version` key instead of `mlflow_version` (MLflow keeps unknown
keys and treats a missing `mlflow_version` as None).
"""

from __future__ import annotations

import platform
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from mlcadence.tracking.errors import InvalidInput, NotFound
from mlcadence.tracking.models.environment import CONDA_FILE, PYTHON_ENV_FILE
from mlcadence.tracking.models.signature import Signature

MLMODEL_FILE = "MLmodel"
PYFUNC_FLAVOR = "python_function"
SKLEARN_FLAVOR = "sklearn"
SKLEARN_LOADER_MODULE = "mlflow.sklearn"


def _mlcadence_version() -> str:
    from mlcadence.version import __version__

    return __version__


def utc_now_str() -> str:
    # MLflow's format: str() of a naive UTC datetime.
    return str(datetime.now(UTC).replace(tzinfo=None))


def build_mlmodel(
    *,
    model_file: str,
    serialization_format: str,
    sklearn_version: str,
    predict_fn: str = "predict",
    signature: Signature | None = None,
    example_info: dict | None = None,
    metadata: dict | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    skops_trusted_types: list[str] | None = None,
) -> dict:
    doc: dict = {
        "flavors": {
            PYFUNC_FLAVOR: {
                "env": {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE},
                "loader_module": SKLEARN_LOADER_MODULE,
                "model_path": model_file,
                "predict_fn": predict_fn,
                "python_version": platform.python_version(),
            },
            SKLEARN_FLAVOR: {
                "code": None,
                "pickled_model": model_file,
                "serialization_format": serialization_format,
                "sklearn_version": sklearn_version,
                "skops_trusted_types": skops_trusted_types,
            },
        },
        "mlcadence_version": _mlcadence_version(),
        "model_id": None,
        "model_uuid": uuid.uuid4().hex,
        "prompts": None,
        "utc_time_created": utc_now_str(),
    }
    if run_id is not None:
        doc["run_id"] = run_id
    if artifact_path is not None:
        doc["artifact_path"] = artifact_path
    if signature is not None:
        doc["signature"] = signature.to_dict()
        doc["is_signature_from_type_hint"] = False
        doc["type_hint_from_example"] = False
    if example_info is not None:
        doc["saved_input_example_info"] = example_info
    if metadata:
        doc["metadata"] = dict(metadata)
    return doc


def write_mlmodel(model_dir: Path, doc: dict) -> None:
    (model_dir / MLMODEL_FILE).write_text(yaml.safe_dump(doc, default_flow_style=False))


def read_mlmodel(model_dir: Path) -> dict:
    path = model_dir / MLMODEL_FILE
    if not path.is_file():
        raise NotFound(
            f'Could not find an "MLmodel" configuration file at "{model_dir}". Check the model '
            "URI or path; a model directory holds an MLmodel file next to the model file."
        )
    return parse_mlmodel(path.read_bytes(), path)


def parse_mlmodel(data: bytes | str, where: Path) -> dict:
    """The MLmodel document in `data`; the loader passes the bytes it verified
    rather than reading the file a second time."""
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as e:
        raise InvalidInput(f"The MLmodel file at '{where}' is not valid YAML ({e}).") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("flavors"), dict):
        raise InvalidInput(
            f"The MLmodel file at '{where}' has no 'flavors' map; it is not an MLflow model."
        )
    return doc


@dataclass(frozen=True)
class SklearnModelSpec:
    """Where the estimator is and how to read it, from either flavor."""

    model_file: str
    serialization_format: str | None
    predict_fn: str
    skops_trusted_types: list[str] | None


def sklearn_spec(doc: dict, model_dir: Path) -> SklearnModelSpec:
    flavors = doc["flavors"]
    pyfunc = flavors.get(PYFUNC_FLAVOR) or {}
    sk = flavors.get(SKLEARN_FLAVOR)
    if sk is None and pyfunc.get("loader_module") != SKLEARN_LOADER_MODULE:
        raise InvalidInput(
            f"The model at '{model_dir}' has flavors {sorted(flavors)} but no 'sklearn' flavor; "
            "mlcadence loads scikit-learn models. Load other flavors with mlflow.pyfunc."
        )
    sk = sk or {}
    model_file = sk.get("pickled_model") or pyfunc.get("model_path")
    if not model_file:
        raise InvalidInput(
            f"The MLmodel at '{model_dir}' names no model file (sklearn.pickled_model); "
            "re-save the model."
        )
    return SklearnModelSpec(
        model_file=model_file,
        serialization_format=sk.get("serialization_format"),
        predict_fn=pyfunc.get("predict_fn") or "predict",
        skops_trusted_types=sk.get("skops_trusted_types"),
    )


def signature_of(doc: dict) -> Signature | None:
    sig = doc.get("signature")
    return Signature.from_dict(sig) if sig and sig.get("inputs") else None
