"""Artifact paths as every artifact location sees them: "/"-separated,
relative to the run's artifact root, never leaving it; and the listing
record. Pure functions, shared by the local and the HTTP locations."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from mlcadence.tracking.errors import InvalidInput

# MLflow's local artifact repository writes in-flight files under this prefix
# and leaves them out of its listings: so an upload in progress, or one a
# crash cut short, is invisible to MLflow's readers as to ours.
TMP_PREFIX = ".artifact.uploading."


@dataclass(frozen=True)
class FileInfo:
    path: str  # relative to the run's artifact root, "/"-separated
    is_dir: bool
    file_size: int | None


def check_relative(artifact_path: str | None) -> str:
    """Normalized "/"-separated relative path; "" for the root."""
    if artifact_path is None:
        return ""
    text = os.fspath(artifact_path)
    if "\\" in text or "\x00" in text:
        raise InvalidInput(
            f"Invalid artifact path '{text}': use '/' as the separator and no NUL characters."
        )
    if text.startswith("/") or Path(text).is_absolute():
        raise InvalidInput(
            f"Invalid artifact path '{text}': it must be relative to the run's artifact "
            "directory. Drop the leading '/'."
        )
    norm = posixpath.normpath(text) if text else "."
    if norm == ".":
        return ""
    if norm == ".." or norm.startswith("../"):
        raise InvalidInput(
            f"Invalid artifact path '{text}': it escapes the run's artifact directory. "
            "Use a path inside it, without '..'."
        )
    return norm


def require_file_path(artifact_file: str) -> str:
    rel = check_relative(artifact_file)
    if not rel:
        raise InvalidInput("artifact_file must name a file, e.g. 'config/params.json'.")
    return rel
