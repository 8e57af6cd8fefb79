"""A model ready to serve: the fastest predict callable plus what /health shows.

Loading goes through `tracking.models.load_model` and `tracking.uris` (any
model URI: runs:/, models:/name/3, models:/name@alias, paths). For
scikit-learn models we call the estimator itself on a float array: the pyfunc
wrapper's DataFrame round trip is the slowest part of MLflow's request path,
and the signature has already been enforced by `serving.convert`.
"""

from __future__ import annotations

import json
import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcadence.serving.errors import ModelLoadError, ModelNotFound
from mlcadence.settings import ServingSettings
from mlcadence.tracking.models.mlmodel import signature_of
from mlcadence.tracking.models.signature import Schema

# We pass arrays whose columns were already matched by name to the signature,
# so scikit-learn's "fitted with feature names" reminder is noise here.
warnings.filterwarnings("ignore", message="X does not have valid feature names")

# A URI whose target can change while we serve it: the reloader polls these.
_MOVING = re.compile(r"^models:/[^/@]+(@[^/]+|/latest|/(?!\d+$)[^/]+)$", re.IGNORECASE)

SERVING_EXAMPLE_FILE = "serving_input_example.json"
# Where no settings are passed (tests, notebooks): the setting's own default.
FAST_PATH_DEFAULT: bool = ServingSettings.model_fields["fast_path"].default


@dataclass
class LoadedModel:
    predict_fn: Callable[[Any, dict | None], Any]
    schema: Schema | None  # the signature's inputs
    wants_frame: bool
    uri: str
    name: str | None = None
    version: str | None = None
    run_id: str | None = None
    loaded_at: float = field(default_factory=time.time)
    serving_example: dict | None = None
    source: Any = None

    def predict(self, data: Any, params: dict | None = None) -> Any:
        return self.predict_fn(data, params)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "uri": self.uri,
            "run_id": self.run_id,
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at)),
        }


def input_schema(metadata: dict | None) -> Schema | None:
    """The input schema of an MLmodel document's signature, if it has one."""
    signature = signature_of(metadata or {})
    return signature.inputs if signature is not None else None


def is_moving_uri(uri: str) -> bool:
    """True for aliases, `latest` and stages: the registry can move them."""
    return bool(_MOVING.match(uri or ""))


def from_estimator(
    estimator: Any,
    *,
    uri: str = "memory:",
    metadata: dict | None = None,
    name: str | None = None,
    version: str | None = None,
    serving_example: dict | None = None,
    fast_path: bool = FAST_PATH_DEFAULT,
) -> LoadedModel:
    """Wrap an in-memory estimator (tests, notebooks) as a servable model."""
    method = _predict_method_name(metadata)
    return LoadedModel(
        predict_fn=_estimator_predict(estimator, method, fast_path),
        schema=input_schema(metadata),
        wants_frame=False,
        uri=uri,
        name=name,
        version=version,
        serving_example=serving_example,
        source=estimator,
    )


# The registry's answers for a name, version or alias it does not have
# (an unknown alias is MLflow's INVALID_PARAMETER_VALUE, not a 404).
NOT_IN_REGISTRY = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def load(
    uri: str, *, fast_path: bool = FAST_PATH_DEFAULT, allow_unverified: bool = False
) -> LoadedModel:
    """Resolve and load `uri`; any failure becomes a `ModelLoadError` that says why.
    `fast_path`: use a verified faster predict for tree ensembles where one exists.
    `allow_unverified`: also load a model without a digest manifest (logged)."""
    try:
        from mlcadence.tracking.models.loading import open_model
        from mlcadence.tracking.uris import resolve_model_uri
    except ImportError as exc:  # pragma: no cover - the models layer is a sibling package
        raise ModelLoadError(f"The model layer is not available: {exc}") from exc
    try:
        resolved = resolve_model_uri(uri)
    except Exception as exc:  # noqa: BLE001 - reported to the operator, not a client
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        if getattr(exc, "error_code", None) in NOT_IN_REGISTRY:
            raise ModelNotFound(f"Model {uri!r} does not exist: {message}") from exc
        raise ModelLoadError(f"Could not load model {uri!r}: {message}") from exc
    try:
        pinned = (
            f"models:/{resolved.name}/{resolved.version}"
            if resolved.name and resolved.version is not None and uri.startswith("models:/")
            else uri
        )
        opened = open_model(pinned, allow_unverified=allow_unverified)
        metadata = opened.files.mlmodel
        table = saved_table(opened, metadata) if fast_path else None
        if table is not None:
            # Answers come from the verified table; the estimator is unpickled
            # (scikit-learn imported) only if an input ever needs it.
            predict_fn, wants_frame, source = _table_first(table, opened), False, None
        else:
            source = opened.pyfunc()
            predict_fn, wants_frame = fast_predictor(source, metadata, fast_path)
    except Exception as exc:  # noqa: BLE001 - reported to the operator, not a client
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        raise ModelLoadError(f"Could not load model {uri!r}: {message}") from exc
    run_id = metadata.get("run_id") if isinstance(metadata, dict) else None
    mv = getattr(resolved, "model_version", None)
    if mv is not None and getattr(mv, "run_id", None):
        run_id = mv.run_id
    return LoadedModel(
        predict_fn=predict_fn,
        schema=input_schema(metadata),
        wants_frame=wants_frame,
        uri=uri,
        name=resolved.name,
        version=None if resolved.version is None else str(resolved.version),
        run_id=run_id,
        # The directory the model was loaded from (a local copy of a server's files).
        serving_example=read_serving_example(Path(opened.resolved.local_path)),
        source=source,
    )


def saved_table(opened, metadata: dict):
    """The forest table saved with the model, if it serves the model's predict method."""
    from mlcadence.tracking.models.forest_table import ForestTable

    raw = opened.files.forest_table
    if raw is None:
        return None
    try:
        table = ForestTable.from_bytes(raw)
    except ValueError:
        return None
    return table if table.method == _predict_method_name(metadata) else None


def _table_first(table, opened) -> Callable[[Any, dict | None], Any]:
    from mlcadence.serving.fastpath import table_predict

    lock = threading.Lock()
    estimator: list[Any] = []

    def estimator_method(X):
        with lock:  # one unpickle, however many requests need it at once
            if not estimator:
                estimator.append(opened.unpickle())
        return getattr(estimator[0], table.method)(X)

    method = table_predict(table, estimator_method)

    def predict(data: Any, params: dict | None = None) -> Any:
        return method(data)

    return predict


def resolve_version(uri: str) -> str | None:
    """The registry version `uri` points at now (cheap: no model files read)."""
    from mlcadence.tracking.uris import resolve_model_uri

    resolved = resolve_model_uri(uri)
    return None if resolved.version is None else str(resolved.version)


def read_serving_example(model_dir: Path) -> dict | None:
    path = model_dir / SERVING_EXAMPLE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------- predict callables
_RAW_MODEL_ACCESSORS: tuple[Callable[[Any], Any], ...] = (
    lambda m: m.unwrap(),
    lambda m: m.get_raw_model(),
    lambda m: m.unwrap_python_model(),
    lambda m: m.raw_model,
    lambda m: m.estimator,
    lambda m: m.model,
)


def _predict_method_name(metadata: dict | None) -> str:
    flavors = (metadata or {}).get("flavors") or {}
    return (flavors.get("python_function") or {}).get("predict_fn") or "predict"


def _estimator_predict(
    estimator: Any, method_name: str, fast_path: bool
) -> Callable[[Any, dict | None], Any]:
    """The estimator's predict method, or a verified faster equivalent."""
    method = getattr(estimator, method_name)
    width = getattr(estimator, "n_features_in_", None)
    if fast_path and isinstance(width, int):
        from mlcadence.serving.fastpath import fast_predict, probe_inputs

        method = fast_predict(estimator, method_name, probe_inputs(width)) or method

    def predict(data: Any, params: dict | None = None) -> Any:
        return method(data)

    return predict


def fast_predictor(pyfunc: Any, metadata: dict | None, fast_path: bool) -> tuple[Callable, bool]:
    """(predict(data, params), wants_frame). The raw scikit-learn estimator when
    the pyfunc wrapper exposes one, else the wrapper itself on DataFrames."""
    method = _predict_method_name(metadata)
    for accessor in _RAW_MODEL_ACCESSORS:
        try:
            raw = accessor(pyfunc)
        except Exception:  # noqa: BLE001 - accessor not offered by this wrapper
            continue
        if raw is not None and hasattr(raw, "fit") and callable(getattr(raw, method, None)):
            return _estimator_predict(raw, method, fast_path), False

    def predict(data: Any, params: dict | None = None) -> Any:
        if params:
            try:
                return pyfunc.predict(data, params=params)
            except TypeError:
                pass
        return pyfunc.predict(data)

    return predict, True
