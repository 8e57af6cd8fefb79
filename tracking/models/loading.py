"""`load_model`: URI -> verified files -> estimator -> PyFuncModel.

Digests are checked before the model file is opened, because unpickling is
code execution. Models without our manifest (e.g. saved by
`mlflow.sklearn`) still load, with an `UnverifiedModelWarning`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from mlcadence.tracking.errors import InvalidInput, ModelIntegrityError, NotFound
from mlcadence.tracking.models import integrity
from mlcadence.tracking.models.mlmodel import MLMODEL_FILE, read_mlmodel, signature_of, sklearn_spec
from mlcadence.tracking.models.pyfunc import PyFuncModel
from mlcadence.tracking.models.serialization import get_format


class UnverifiedModelWarning(UserWarning):
    """The model has no digest manifest, so its files could not be checked."""


def _registry_digest(model_version) -> str | None:
    from mlcadence.tracking.registry import MANIFEST_DIGEST_TAG

    return model_version.tags.get(MANIFEST_DIGEST_TAG) if model_version is not None else None


def _check_files(model_dir: Path, model_uri: str, expected_digest: str | None) -> bool:
    if integrity.has_manifest(model_dir):
        integrity.verify(model_dir, expected_digest)
        return True
    if expected_digest is not None:
        raise ModelIntegrityError(
            f"Model '{model_uri}' was registered with a digest manifest, but "
            f"'{integrity.MANIFEST_FILE}' is gone from '{model_dir}', so it was not loaded. "
            "Restore the model's files or register a fresh copy."
        )
    warnings.warn(
        f"Model '{model_uri}' has no '{integrity.MANIFEST_FILE}' (it was not saved by "
        "mlcadence), so its files were not checked before unpickling. Load only models from "
        "sources you trust; re-save it with tracking.models.save_model to add digests.",
        UnverifiedModelWarning,
        stacklevel=3,
    )
    return False


def _model_file(model_dir: Path, name: str) -> Path:
    target = (model_dir / name).resolve()
    if model_dir.resolve() not in target.parents:
        raise InvalidInput(
            f"The MLmodel at '{model_dir}' names model file '{name}', outside the model "
            "directory; refusing to load it."
        )
    if not target.is_file():
        raise NotFound(f"Model file '{name}' is missing from '{model_dir}'. Re-save the model.")
    return target


def load_model(model_uri, client=None) -> PyFuncModel:
    """Load a scikit-learn model from any model URI (runs:/, models:/, path)."""
    from mlcadence.tracking.uris import resolve_model_uri

    resolved = resolve_model_uri(model_uri, client)
    model_dir = resolved.local_path
    if not (model_dir / MLMODEL_FILE).is_file():
        raise NotFound(
            f'Could not find an "MLmodel" configuration file at "{model_dir}" (from URI '
            f"'{model_uri}'). Check the URI; log or save the model first."
        )
    verified = _check_files(model_dir, str(model_uri), _registry_digest(resolved.model_version))
    doc = read_mlmodel(model_dir)
    spec = sklearn_spec(doc, model_dir)
    fmt = get_format(spec.serialization_format)
    estimator = fmt.load(_model_file(model_dir, spec.model_file), spec.skops_trusted_types)
    return PyFuncModel(
        model=estimator,
        metadata=doc,
        signature=signature_of(doc),
        model_uri=str(model_uri),
        local_path=model_dir,
        predict_fn=spec.predict_fn,
        model_version=resolved.model_version,
        verified=verified,
    )
