"""Artifacts proxied through the server (`mlflow-artifacts`), as `mlflow
server --artifacts-destination DIR` does.

The artifacts destination is a local directory. `mlflow-artifacts:/<path>`
names `<destination>/<path>`; clients upload (PUT), download (GET) and list
(GET ?path=) through `/api/2.0/mlflow-artifacts/artifacts`, so they never need
the server's filesystem. Experiments created through the server get
`mlflow-artifacts:/<experiment_id>` as their artifact location, so a run's
artifact URI is `mlflow-artifacts:/<exp_id>/<run_id>/artifacts`.

How other artifact locations are presented: a `file://` location inside the
destination is shown as the equivalent `mlflow-artifacts:/` URI (so a store
first written by `mlcadence` with its artifact root at the destination is
served as if the server had made it). Any other location (e.g. `file://`
folders of runs logged straight into the store before the server existed) is
shown as stored: those runs' artifacts stay readable where that path is, as
with `mlflow server`; create new experiments through the server to have
their artifacts proxied.

Every path is resolved inside the destination (no `..`, no absolute path, no
symlink escape; `tracking.artifacts.resolve`), and an upload is written to a
temporary name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from mlcadence.tracking import artifacts as store_artifacts
from mlcadence.tracking.errors import InvalidInput, NotFound

SCHEME = "mlflow-artifacts"
ROOT_URI = f"{SCHEME}:/"


class ArtifactDestination:
    """The directory the server keeps artifacts in, and the URI mapping."""

    def __init__(self, directory: str | os.PathLike):
        self.root = Path(os.path.abspath(os.path.expanduser(os.fspath(directory))))
        self.root.mkdir(parents=True, exist_ok=True)
        self._prefix = self.root.as_posix().rstrip("/") + "/"

    def present(self, uri: str | None) -> str | None:
        if not uri or not uri.startswith("file:"):
            return uri
        parsed = urlparse(uri)
        path = unquote(parsed.path)
        if parsed.netloc not in ("", "localhost"):
            return uri
        if path == self._prefix.rstrip("/"):
            return ROOT_URI
        if path.startswith(self._prefix):
            return ROOT_URI + path[len(self._prefix) :]
        return uri

    def path(self, artifact_path: str | None) -> Path:
        return store_artifacts.resolve(self.root, artifact_path or "")


def _unsafe(path: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid artifact path '{path}': give a relative path inside the artifact store "
        "(no '..', no leading '/')."
    )


async def upload(request: Request, destination: ArtifactDestination) -> Response:
    artifact_path = request.path_params["artifact_path"]
    target = destination.path(artifact_path)
    if not posixpath.basename(artifact_path) or target == destination.root:
        raise _unsafe(artifact_path)
    if target.is_dir():
        raise InvalidInput(
            f"Artifact path '{artifact_path}' is a directory of artifacts; a file cannot "
            "replace it. Upload the file under a path of its own."
        )
    await run_in_threadpool(target.parent.mkdir, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=store_artifacts.TMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                if chunk:
                    fh.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return Response("{}", media_type="application/json")


async def download(request: Request, destination: ArtifactDestination) -> Response:
    artifact_path = request.path_params["artifact_path"]
    target = destination.path(artifact_path)
    if not target.is_file():
        raise NotFound(
            f"Artifact '{artifact_path}' does not exist (or is a directory). List the "
            "directory to see which files it holds."
        )
    return FileResponse(target, media_type="application/octet-stream")


def list_files(destination: ArtifactDestination, path: str | None) -> dict:
    root_uri = destination.root.as_uri()
    infos = store_artifacts.list_artifacts(root_uri, path or "")
    if len(infos) == 1 and not infos[0].is_dir and infos[0].path == (path or "").strip("/"):
        return {"files": []}  # a file is no directory: nothing under it, as MLflow answers
    files = []
    for info in infos:
        record: dict = {"path": posixpath.basename(info.path), "is_dir": info.is_dir}
        if info.file_size is not None:
            record["file_size"] = info.file_size
        files.append(record)
    return {"files": files}
