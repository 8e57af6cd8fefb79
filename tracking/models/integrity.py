"""Which bytes of a model directory the loader may use: a sha256 manifest.

The digests live in `mlcadence-manifest.json` next to `MLmodel` rather than
inside it, so that `MLmodel` itself is covered too (a swapped loader module
or serialization format is caught as surely as a swapped pickle). MLflow
ignores files it does not know, so its loaders are unaffected.

Rules, because unpickling runs code:
- the loader gets a file's bytes only through `FileReader.read`; with a
  manifest, a file it does not list is refused, so removing entries from the
  manifest lets no file through unchecked;
- each file is read once, and the bytes that were hashed are the bytes handed
  out, so a file swapped on disk after its check is never used;
- the manifest is parsed from the same bytes whose digest was compared with
  the registry's pin.

The manifest detects accidental and casual tampering with a model directory.
Against someone able to rewrite the manifest as well, the registry pins the
manifest's own digest on each model version (see `tracking.registry`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mlcadence.tracking.errors import InvalidInput, ModelIntegrityError, NotFound

MANIFEST_FILE = "mlcadence-manifest.json"
MANIFEST_FORMAT = 1
_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Streamed, for files the loader checks but never uses."""
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


def has_manifest(model_dir: Path) -> bool:
    # Anything at that name counts: a manifest turned into a directory or a
    # dangling link must fail verification, not pass as "no manifest".
    return os.path.lexists(model_dir / MANIFEST_FILE)


def _refuse(model_dir: Path, what: str) -> ModelIntegrityError:
    return ModelIntegrityError(
        f"Model at '{model_dir}' failed its integrity check: {what}. It was changed after it "
        "was saved, so it was not loaded. Re-save or re-log the model from its training run, "
        "or restore the original files; do not load it if you do not know who changed it."
    )


def _inside(model_dir: Path, rel: str) -> Path | None:
    """The resolved path of `rel`, or None when it leaves the model directory."""
    target = (model_dir / rel).resolve()
    return target if model_dir.resolve() in target.parents else None


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


@dataclass(frozen=True)
class VerifiedFiles:
    """A model directory seen through its manifest."""

    model_dir: Path
    digests: dict[str, str]
    manifest_sha256: str
    verified: ClassVar[bool] = True

    def read(self, rel: str) -> bytes:
        """The bytes of `rel`, hashed and matched against the manifest."""
        expected = self.digests.get(rel)
        if expected is None:
            raise _refuse(
                self.model_dir,
                f"'{rel}' is not listed in '{MANIFEST_FILE}', so it cannot be checked",
            )
        data = _read_bytes(self._path(rel))
        if data is None:
            raise _refuse(self.model_dir, f"file '{rel}' is missing")
        actual = sha256_bytes(data)
        if actual != expected:
            raise _refuse(self.model_dir, f"file '{rel}' has sha256 {actual}, expected {expected}")
        return data

    def check_rest(self, already_read: set[str]) -> None:
        """Every other listed file matches: the loader does not use them, but
        a change to any of them means the directory is not what was saved."""
        for rel, expected in sorted(self.digests.items()):
            if rel in already_read:
                continue
            path = self._path(rel)
            if not path.is_file():
                raise _refuse(self.model_dir, f"file '{rel}' is missing")
            actual = sha256_file(path)
            if actual != expected:
                raise _refuse(
                    self.model_dir, f"file '{rel}' has sha256 {actual}, expected {expected}"
                )

    def _path(self, rel: str) -> Path:
        path = _inside(self.model_dir, rel)
        if path is None:
            raise _refuse(self.model_dir, f"'{rel}' is outside the model directory")
        return path


@dataclass(frozen=True)
class UnverifiedFiles:
    """A model directory without a manifest, read as is (explicit opt-in only)."""

    model_dir: Path
    manifest_sha256: ClassVar[None] = None
    verified: ClassVar[bool] = False

    def read(self, rel: str) -> bytes:
        path = _inside(self.model_dir, rel)
        if path is None:
            raise InvalidInput(
                f"The MLmodel at '{self.model_dir}' names file '{rel}', outside the model "
                "directory; refusing to load it."
            )
        data = _read_bytes(path)
        if data is None:
            raise NotFound(f"Model file '{rel}' is missing from '{self.model_dir}'. Re-save it.")
        return data

    def check_rest(self, already_read: set[str]) -> None:
        """Nothing to check against."""


# What the loader reads a model directory through.
FileReader = VerifiedFiles | UnverifiedFiles


def _parse_manifest(raw: bytes) -> dict[str, str]:
    manifest = json.loads(raw)
    if not isinstance(manifest, dict):
        raise ValueError("not a JSON object")
    if manifest.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT:
        raise ValueError(f"unknown format {manifest.get('format')!r}")
    if manifest.get("algorithm", "sha256") != "sha256":
        raise ValueError(f"unknown digest algorithm {manifest.get('algorithm')!r}")
    files = manifest["files"]
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise ValueError("'files' is not a map of file name to digest")
    return files


def open_verified(model_dir: Path, expected_manifest_sha256: str | None = None) -> VerifiedFiles:
    """Read the manifest once: check its digest against the registry's pin
    (when given) and parse it from those same bytes."""
    raw = _read_bytes(model_dir / MANIFEST_FILE)
    if raw is None:
        raise _refuse(model_dir, f"'{MANIFEST_FILE}' is missing or not a file")
    digest = sha256_bytes(raw)
    if expected_manifest_sha256 is not None and digest != expected_manifest_sha256:
        raise _refuse(
            model_dir, f"'{MANIFEST_FILE}' does not match the digest recorded in the registry"
        )
    try:
        files = _parse_manifest(raw)
    except (ValueError, KeyError) as e:
        raise _refuse(model_dir, f"'{MANIFEST_FILE}' cannot be read ({e})") from None
    return VerifiedFiles(model_dir, files, digest)
