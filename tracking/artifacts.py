"""Run artifacts, wherever a run's `artifact_uri` puts them: a small table
by URI scheme picks the location's implementation.

- a plain path or `file://`: a local directory (`artifacts_local`; writes are
  atomic, paths cannot escape the run's directory);
- `mlflow-artifacts:` and `http(s)://`: a tracking server's artifact proxy
  (`artifacts_http`), resolved against the tracking URI as MLflow does.

Every function takes the run's `artifact_uri` and, for server locations, the
`tracking_uri` they are resolved against (default: the current one).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from mlcadence.tracking import artifacts_local as _local
from mlcadence.tracking.artifact_paths import TMP_PREFIX, FileInfo, check_relative
from mlcadence.tracking.artifacts_local import artifact_root, resolve
from mlcadence.tracking.conventions import uri_scheme
from mlcadence.tracking.errors import InvalidInput

__all__ = [
    "TMP_PREFIX",
    "FileInfo",
    "artifact_root",
    "check_relative",
    "download_artifacts",
    "is_local",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_text",
    "resolve",
]


class LocalArtifacts:
    """A local artifact directory, through `artifacts_local`."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None):
        self.artifact_uri = artifact_uri

    def close(self) -> None:
        pass

    def log_artifact(self, local_path, artifact_path=None) -> str:
        return _local.log_artifact(self.artifact_uri, local_path, artifact_path)

    def log_artifacts(self, local_dir, artifact_path=None) -> list[str]:
        return _local.log_artifacts(self.artifact_uri, local_dir, artifact_path)

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        return _local.write_bytes(self.artifact_uri, artifact_file, data)

    def list_artifacts(self, path=None) -> list[FileInfo]:
        return _local.list_artifacts(self.artifact_uri, path)

    def download_artifacts(self, path=None, dst_path=None) -> Path:
        return _local.download_artifacts(self.artifact_uri, path, dst_path)


def _server_artifacts(artifact_uri: str, tracking_uri: str | None):
    from mlcadence.tracking.artifacts_http import HttpArtifacts  # httpx only when needed
    from mlcadence.tracking.tracking_uri import get_tracking_uri

    return HttpArtifacts(artifact_uri, tracking_uri or get_tracking_uri())


LOCATIONS: dict[str, Callable] = {
    "": LocalArtifacts,
    "file": LocalArtifacts,
    "mlflow-artifacts": _server_artifacts,
    "http": _server_artifacts,
    "https": _server_artifacts,
}


def is_local(artifact_uri: str) -> bool:
    return LOCATIONS.get(uri_scheme(artifact_uri)) is LocalArtifacts


def location(artifact_uri: str, tracking_uri: str | None = None):
    """The implementation for `artifact_uri` (close() it when done)."""
    scheme = uri_scheme(artifact_uri)
    factory = LOCATIONS.get(scheme)
    if factory is None:
        raise InvalidInput(
            f"Artifact URI '{artifact_uri}' has scheme '{scheme}', which this client cannot "
            "read or write. Use a store whose artifact location is a local path, a file:// URI, "
            "or a tracking server (mlflow-artifacts:/, http(s)://)."
        )
    return factory(artifact_uri, tracking_uri)


def _with_location(artifact_uri: str, tracking_uri: str | None, use):
    place = location(artifact_uri, tracking_uri)
    try:
        return use(place)
    finally:
        place.close()


def log_artifact(
    artifact_uri: str,
    local_path: str | os.PathLike,
    artifact_path: str | None = None,
    *,
    tracking_uri: str | None = None,
) -> str:
    """Copy one file into `<artifact_path>/<basename>`; returns its relative path."""
    return _with_location(
        artifact_uri, tracking_uri, lambda p: p.log_artifact(local_path, artifact_path)
    )


def log_artifacts(
    artifact_uri: str,
    local_dir: str | os.PathLike,
    artifact_path: str | None = None,
    *,
    tracking_uri: str | None = None,
) -> list[str]:
    """Copy a directory tree under `artifact_path`; returns the relative paths written."""
    return _with_location(
        artifact_uri, tracking_uri, lambda p: p.log_artifacts(local_dir, artifact_path)
    )


def log_text(
    artifact_uri: str, text: str, artifact_file: str, *, tracking_uri: str | None = None
) -> str:
    data = text.encode("utf-8")
    return _with_location(artifact_uri, tracking_uri, lambda p: p.write_bytes(artifact_file, data))


def log_dict(
    artifact_uri: str, dictionary: dict, artifact_file: str, *, tracking_uri: str | None = None
) -> str:
    """YAML for `.yaml`/`.yml` files, JSON otherwise (as MLflow does)."""
    if artifact_file.endswith((".yaml", ".yml")):
        import yaml

        text = yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False)
    else:
        text = json.dumps(dictionary, indent=2)
    return log_text(artifact_uri, text, artifact_file, tracking_uri=tracking_uri)


def list_artifacts(
    artifact_uri: str, path: str | None = None, *, tracking_uri: str | None = None
) -> list[FileInfo]:
    """Direct children of `path`, sorted by name; empty when `path` is absent;
    a file lists as itself."""
    return _with_location(artifact_uri, tracking_uri, lambda p: p.list_artifacts(path))


def download_artifacts(
    artifact_uri: str,
    path: str | None = None,
    dst_path: str | os.PathLike | None = None,
    *,
    tracking_uri: str | None = None,
) -> Path:
    """Copy `path` (file or directory) into `dst_path` (a new temporary
    directory when None) and return the local copy's path."""
    return _with_location(
        artifact_uri, tracking_uri, lambda p: p.download_artifacts(path, dst_path)
    )
