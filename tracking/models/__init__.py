"""scikit-learn models in MLflow's MLmodel format.

    save_model(model, path, input_example=X[:5])     # a directory MLflow can load
    info = log_model(model, "model", input_example=X[:5], registered_model_name="m")
    load_model("models:/m@champion").predict(X)

Modules, one job each: `signature` (schemas and their enforcement),
`example` (input example files), `environment` (requirements/env files),
`serialization` (format table), `integrity` (sha256 manifest), `mlmodel`
(the MLmodel file), `saving`/`loading`, `pyfunc` (the loaded model).
"""

import importlib

# Public name -> the module defining it, imported on first use: a server that
# only needs `signature` and `loading` never pays for saving's dependencies.
_EXPORTS = {
    "UnverifiedModelWarning": "loading",
    "load_model": "loading",
    "PyFuncModel": "pyfunc",
    "ModelInfo": "saving",
    "log_model": "saving",
    "save_model": "saving",
    "ColSpec": "signature",
    "Schema": "signature",
    "Signature": "signature",
    "TensorSpec": "signature",
    "infer_signature": "signature",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
