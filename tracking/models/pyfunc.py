"""A loaded model: the estimator plus its MLmodel, scoring through the
signature."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlcadence.tracking.entities import ModelVersion
from mlcadence.tracking.errors import InvalidInput
from mlcadence.tracking.lazy import LazyModule
from mlcadence.tracking.models.signature import Signature, enforce

pd = LazyModule("pandas")  # imported on first use: numeric serving never needs it


@dataclass
class PyFuncModel:
    model: object  # the estimator itself (MLflow's `unwrap_python_model` equivalent)
    metadata: dict  # the MLmodel document
    signature: Signature | None
    model_uri: str
    local_path: Path
    predict_fn: str = "predict"
    model_version: ModelVersion | None = None
    verified: bool = field(default=False)  # digests checked against a manifest

    def predict(self, data, params: dict | None = None):
        """Score a DataFrame, ndarray, list of rows, list of records or dict
        of columns; inputs are checked and converted by the signature.
        `params` exists for MLflow parity; sklearn's predict takes none, so
        they are ignored with a warning (as MLflow does)."""
        if params:
            warnings.warn(
                f"Ignoring inference params {sorted(params)}: scikit-learn models take none.",
                UserWarning,
                stacklevel=2,
            )
        prepared = enforce(data, self.signature.inputs if self.signature else None)
        fn = getattr(self.model, self.predict_fn, None)
        if fn is None:
            raise InvalidInput(
                f"The model ({type(self.model).__name__}) has no '{self.predict_fn}' method, "
                "which its MLmodel names as predict_fn. Re-save it with a predict_fn it has."
            )
        result = fn(prepared)
        if isinstance(result, (pd.DataFrame, pd.Series)):
            return result.to_numpy()
        return result if isinstance(result, (np.ndarray, list)) else np.asarray(result)

    def unwrap(self) -> object:
        return self.model

    @property
    def model_uuid(self) -> str | None:
        return self.metadata.get("model_uuid")

    def __repr__(self) -> str:
        return (
            f"PyFuncModel(uri={self.model_uri!r}, model={type(self.model).__name__}, "
            f"signature={'yes' if self.signature else 'no'})"
        )
