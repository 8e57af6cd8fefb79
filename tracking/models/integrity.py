"""A sha256 of every file of a model, checked before anything is unpickled.

The digests live in `mlcadence-manifest.json` next to `MLmodel` rather than
inside it, so that `MLmodel` itself is covered too (a swapped loader module
or serialization format is caught as surely as a swapped pickle). MLflow
ignores files it does not know, so its loaders are unaffected.

The manifest detects accidental and casual tampering with a model directory.
Against someone able to rewrite the manifest as well, the registry pins the
manifest's own digest on each model version (see `tracking.registry`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mlcadence.tracking.errors import ModelIntegrityError

MANIFEST_FILE = "mlcadence-manifest.json"
MANIFEST_FORMAT = 1
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _model_files(model_dir: Path) -> list[str]:
    return sorted(
        p.relative_to(model_dir).as_posix()
        for p in model_dir.rglob("*")
        if p.is_file() and p.name != MANIFEST_FILE
    )


def write_manifest(model_dir: Path) -> dict:
    manifest = {
        "format": MANIFEST_FORMAT,
        "algorithm": "sha256",
        "files": {rel: sha256_file(model_dir / rel) for rel in _model_files(model_dir)},
    }
    (model_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def manifest_digest(model_dir: Path) -> str | None:
    """sha256 of the manifest file itself, or None when there is none."""
    path = model_dir / MANIFEST_FILE
    return sha256_file(path) if path.is_file() else None


def has_manifest(model_dir: Path) -> bool:
    return (model_dir / MANIFEST_FILE).is_file()


def _refuse(model_dir: Path, what: str) -> ModelIntegrityError:
    return ModelIntegrityError(
        f"Model at '{model_dir}' failed its integrity check: {what}. It was changed after it "
        "was saved, so it was not loaded. Re-save or re-log the model from its training run, "
        "or restore the original files; do not load it if you do not know who changed it."
    )


def verify(model_dir: Path, expected_manifest_digest: str | None = None) -> None:
    """Raise ModelIntegrityError unless every file listed in the manifest is
    present with its recorded digest (and the manifest has the expected
    digest, when one is given)."""
    path = model_dir / MANIFEST_FILE
    if expected_manifest_digest is not None:
        actual = sha256_file(path) if path.is_file() else None
        if actual != expected_manifest_digest:
            raise _refuse(
                model_dir,
                f"'{MANIFEST_FILE}' does not match the digest recorded in the registry",
            )
    try:
        manifest = json.loads(path.read_text())
        files: dict[str, str] = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise _refuse(model_dir, f"'{MANIFEST_FILE}' cannot be read ({e})") from None
    if manifest.get("algorithm", "sha256") != "sha256":
        raise _refuse(model_dir, f"unknown digest algorithm '{manifest.get('algorithm')}'")
    for rel, digest in sorted(files.items()):
        target = (model_dir / rel).resolve()
        if model_dir.resolve() not in target.parents:
            raise _refuse(model_dir, f"the manifest lists '{rel}', outside the model directory")
        if not target.is_file():
            raise _refuse(model_dir, f"file '{rel}' is missing")
        if sha256_file(target) != digest:
            raise _refuse(
                model_dir, f"file '{rel}' has sha256 {sha256_file(target)}, expected {digest}"
            )
