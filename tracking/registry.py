"""`register_model`: a model URI becomes a new version of a registered model.

The URI is resolved and the model checked (an MLmodel file, and, when it has
a manifest, every file digest, with the files the loader reads all listed)
*before* the version is created, so a broken model never gets a version. The
version's `source` is the URI as given (as MLflow stores it), its `run_id`
comes from a runs:/ URI, and the sha256 of the model's manifest is pinned as a
version tag so a later load through the registry notices a model directory
rewritten wholesale.
"""

from __future__ import annotations

from mlcadence.tracking.conventions import MANIFEST_DIGEST_TAG
from mlcadence.tracking.entities import ModelVersion
from mlcadence.tracking.errors import InvalidInput, NotFound
from mlcadence.tracking.models import integrity
from mlcadence.tracking.models.loading import read_model_files
from mlcadence.tracking.models.mlmodel import read_mlmodel
from mlcadence.tracking.uris import _client, resolve_model_uri

__all__ = ["MANIFEST_DIGEST_TAG", "register_model"]  # the pin's name, for callers


def register_model(
    model_uri: str,
    name: str,
    tags: dict[str, str] | None = None,
    description: str | None = None,
    client=None,
) -> ModelVersion:
    """Create version N+1 of `name` (the registered model is created when
    missing) pointing at `model_uri`."""
    client = _client(client)
    resolved = resolve_model_uri(model_uri, client)
    model_dir = resolved.local_path
    if not model_dir.exists():
        raise NotFound(
            f"Cannot register '{model_uri}': could not find an \"MLmodel\" configuration file "
            f'at "{model_dir}". Log or save the model first, then register its URI.'
        )
    if not model_dir.is_dir():
        raise InvalidInput(
            f"Cannot register '{model_uri}': it resolves to '{model_dir}', which is not a "
            "directory. Log or save the model first, then register its URI."
        )
    read_mlmodel(model_dir)  # NotFound / InvalidInput when it is not a model
    version_tags = dict(tags or {})
    if integrity.has_manifest(model_dir):
        # The pin is the digest of the manifest bytes that were just checked.
        checked = read_model_files(model_dir, str(model_uri))
        version_tags[MANIFEST_DIGEST_TAG] = checked.manifest_sha256
    run_id = resolved.run_id
    return client.create_model_version(
        name,
        source=str(model_uri),
        run_id=run_id,
        tags=version_tags or None,
        description=description,
    )
