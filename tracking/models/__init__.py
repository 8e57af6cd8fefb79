"""scikit-learn models in MLflow's MLmodel format.

    save_model(model, path, input_example=X[:5])     # a directory MLflow can load
    info = log_model(model, "model", input_example=X[:5], registered_model_name="m")
    load_model("models:/m@champion").predict(X)

Modules, one job each: `signature` (schemas and their enforcement),
`example` (input example files), `environment` (requirements/env files),
`serialization` (format table), `integrity` (sha256 manifest), `mlmodel`
(the MLmodel file), `saving`/`loading`, `pyfunc` (the loaded model).
"""

from mlcadence.tracking.models.loading import UnverifiedModelWarning, load_model
from mlcadence.tracking.models.pyfunc import PyFuncModel
from mlcadence.tracking.models.saving import ModelInfo, log_model, save_model
from mlcadence.tracking.models.signature import (
    ColSpec,
    Schema,
    Signature,
    TensorSpec,
    infer_signature,
)

__all__ = [
    "ColSpec",
    "ModelInfo",
    "PyFuncModel",
    "Schema",
    "Signature",
    "TensorSpec",
    "UnverifiedModelWarning",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]
