"""`load_model`: URI -> verified bytes -> estimator -> PyFuncModel.

Unpickling is code execution, so a model loads only from bytes its manifest
vouches for (see `integrity`): `MLmodel` and the model file it names are each
read once, checked, and parsed or unpickled from those same bytes. A model
without a manifest (e.g. saved by `mlflow.sklearn`) is refused unless the
caller opts in with `allow_unverified=True`, which warns and logs.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mlcadence.tracking.conventions import MANIFEST_DIGEST_TAG
from mlcadence.tracking.errors import ModelIntegrityError, NotFound
from mlcadence.tracking.models import forest_table, integrity
from mlcadence.tracking.models.mlmodel import (
    MLMODEL_FILE,
    SklearnModelSpec,
    parse_mlmodel,
    signature_of,
    sklearn_spec,
)
from mlcadence.tracking.models.pyfunc import PyFuncModel
from mlcadence.tracking.models.serialization import get_format

_log = logging.getLogger(__name__)


class UnverifiedModelWarning(UserWarning):
    """The model has no digest manifest, so its files could not be checked."""


@dataclass(frozen=True)
class ModelFiles:
    """What the loader uses of a model directory, all from checked bytes."""

    mlmodel: dict
    spec: SklearnModelSpec
    model_bytes: bytes = field(repr=False)
    verified: bool
    manifest_sha256: str | None  # of the manifest bytes that were used
    # The tree table saved beside a forest (`forest_table.FILE`), read only
    # from a verified directory: it is trusted to give the model's answers.
    forest_table: bytes | None = field(default=None, repr=False)


def registry_pin(model_version) -> str | None:
    """The manifest digest pinned on a model version at registration, if any."""
    return model_version.tags.get(MANIFEST_DIGEST_TAG) if model_version is not None else None


def _open_files(
    model_dir: Path, model_uri: str, expected_digest: str | None, allow_unverified: bool
) -> integrity.FileReader:
    if integrity.has_manifest(model_dir):
        return integrity.open_verified(model_dir, expected_digest)
    if expected_digest is not None:
        # Opting in covers models that never had a manifest, not one that lost it.
        raise ModelIntegrityError(
            f"Model '{model_uri}' was registered with a digest manifest, but "
            f"'{integrity.MANIFEST_FILE}' is gone from '{model_dir}', so it was not loaded. "
            "Restore the model's files or register a fresh copy."
        )
    if not allow_unverified:
        raise ModelIntegrityError(
            f"Model '{model_uri}' has no '{integrity.MANIFEST_FILE}', so its files cannot be "
            "checked before unpickling (which runs code), and it was not loaded. If it comes "
            "from a source you trust (e.g. it was saved by MLflow), load it with "
            "allow_unverified=True (CLI: --allow-unverified); otherwise re-save it with "
            "mlcadence.tracking.models.save_model, which adds the manifest."
        )
    _log.warning(
        "Model %r was not verified: it has no %s, and allow_unverified=True loads it unchecked.",
        model_uri,
        integrity.MANIFEST_FILE,
    )
    warnings.warn(
        f"Model '{model_uri}' was not verified: it has no '{integrity.MANIFEST_FILE}' (it was "
        "not saved by mlcadence), so its files were not checked before unpickling. Load only "
        "models from sources you trust; re-save it with tracking.models.save_model to add "
        "digests.",
        UnverifiedModelWarning,
        stacklevel=4,
    )
    return integrity.UnverifiedFiles(model_dir)


def read_model_files(
    model_dir: Path,
    model_uri: str,
    *,
    expected_manifest_sha256: str | None = None,
    allow_unverified: bool = False,
) -> ModelFiles:
    """Check `model_dir` and return what the loader needs from it, without
    unpickling anything. Raises ModelIntegrityError on any mismatch, on a file
    the loader needs that the manifest does not list, and on a missing
    manifest unless `allow_unverified`."""
    files = _open_files(model_dir, model_uri, expected_manifest_sha256, allow_unverified)
    doc = parse_mlmodel(files.read(MLMODEL_FILE), model_dir / MLMODEL_FILE)
    spec = sklearn_spec(doc, model_dir)
    model_bytes = files.read(spec.model_file)
    already_read = {MLMODEL_FILE, spec.model_file}
    table = None
    if files.verified and forest_table.FILE in files.digests:
        table = files.read(forest_table.FILE)
        already_read.add(forest_table.FILE)
    files.check_rest(already_read=already_read)
    return ModelFiles(doc, spec, model_bytes, files.verified, files.manifest_sha256, table)


@dataclass(frozen=True)
class OpenedModel:
    """A model's checked files and where they came from; nothing unpickled yet."""

    uri: str
    resolved: object  # tracking.uris.ResolvedModel
    files: ModelFiles

    def unpickle(self):
        """The estimator, from the bytes that were checked."""
        fmt = get_format(self.files.spec.serialization_format)
        return fmt.loads(self.files.model_bytes, self.files.spec.skops_trusted_types)

    def pyfunc(self, estimator=None) -> PyFuncModel:
        files = self.files
        return PyFuncModel(
            model=self.unpickle() if estimator is None else estimator,
            metadata=files.mlmodel,
            signature=signature_of(files.mlmodel),
            model_uri=self.uri,
            local_path=self.resolved.local_path,
            predict_fn=files.spec.predict_fn,
            model_version=self.resolved.model_version,
            verified=files.verified,
        )


def open_model(model_uri, client=None, *, allow_unverified: bool = False) -> OpenedModel:
    """Resolve `model_uri` and check its files (see `read_model_files`)."""
    from mlcadence.tracking.uris import resolve_model_uri

    resolved = resolve_model_uri(model_uri, client)
    model_dir = resolved.local_path
    if not (model_dir / MLMODEL_FILE).is_file():
        raise NotFound(
            f'Could not find an "MLmodel" configuration file at "{model_dir}" (from URI '
            f"'{model_uri}'). Check the URI; log or save the model first."
        )
    files = read_model_files(
        model_dir,
        str(model_uri),
        expected_manifest_sha256=registry_pin(resolved.model_version),
        allow_unverified=allow_unverified,
    )
    return OpenedModel(str(model_uri), resolved, files)


def load_model(model_uri, client=None, *, allow_unverified: bool = False) -> PyFuncModel:
    """Load a scikit-learn model from any model URI (runs:/, models:/, path).

    `allow_unverified=True` also loads a model that has no digest manifest
    (one saved by MLflow), with a warning; only for models you trust."""
    return open_model(model_uri, client, allow_unverified=allow_unverified).pyfunc()
