"""Run artifacts kept by a tracking server, through its
`/api/2.0/mlflow-artifacts/artifacts` endpoints (MLflow's artifact proxy):
PUT uploads a file, GET downloads one, GET with `?path=` lists a directory.

An `mlflow-artifacts:/<path>` location is resolved against the tracking URI
as MLflow does (its host, or the one in `mlflow-artifacts://host/<path>`);
an `http(s)://` location is the artifacts URL itself. Requests go through
the tracking backend's session when the location is on the tracking server
(same pooling, token and retries); the token is never sent to another host.

Downloads land in local files written atomically, and every path the server
lists is checked like a local artifact path, so a server cannot make us
write outside the destination.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from mlcadence.tracking.artifact_paths import FileInfo, check_relative, require_file_path
from mlcadence.tracking.artifacts_local import atomic_write, resolve
from mlcadence.tracking.backends.rest_http import HttpSession, origin
from mlcadence.tracking.errors import InvalidInput, NotFound

ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
_CHUNK = 1 << 20


def artifacts_url(artifact_uri: str, tracking_uri: str | None) -> str:
    """The HTTP URL of the directory `artifact_uri` names."""
    parsed = urlsplit(artifact_uri)
    if parsed.scheme in ("http", "https"):
        return artifact_uri.rstrip("/")
    tracking = urlsplit(tracking_uri or "")
    if tracking.scheme not in ("http", "https"):
        raise InvalidInput(
            f"The artifacts of '{artifact_uri}' are kept by a tracking server, but the tracking "
            f"URI is '{tracking_uri}'. Set MLCADENCE_TRACKING_URI to that server "
            "(http://host:port)."
        )
    path = posixpath.normpath(f"/{tracking.path}/{ARTIFACTS_API}/{parsed.path}")
    return urlunsplit((tracking.scheme, parsed.netloc or tracking.netloc, path, "", "")).rstrip("/")


def _session_for(url: str, tracking_uri: str | None) -> tuple[HttpSession, bool]:
    """(session, owned): the tracking backend's own session for its server,
    else a fresh one without a token that the caller closes."""
    if tracking_uri and urlsplit(tracking_uri).scheme in ("http", "https"):
        if origin(url) == origin(tracking_uri):
            from mlcadence.tracking.backends import get_backend

            session = getattr(get_backend(tracking_uri), "http", None)
            if isinstance(session, HttpSession):
                return session, False
    return HttpSession(url), True


class HttpArtifacts:
    """The artifact directory at `url` (…/mlflow-artifacts/artifacts/<root>)."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None):
        self.artifact_uri = artifact_uri
        self.url = artifacts_url(artifact_uri, tracking_uri)
        self.session, self._owned = _session_for(self.url, tracking_uri)
        # The listing endpoint takes the path below the API root as a parameter.
        split = self.url.split(ARTIFACTS_API, 1)
        self._list_url = split[0] + ARTIFACTS_API if len(split) == 2 else self.url
        self._list_root = split[1].strip("/") if len(split) == 2 else ""

    def close(self) -> None:
        if self._owned:
            self.session.close()

    def _file_url(self, rel: str) -> str:
        return f"{self.url}/{quote(rel)}"

    # -- writing -------------------------------------------------------------------
    def _put(self, rel: str, open_body) -> None:
        def attempt() -> httpx.Response:
            with open_body() as body:
                return self.session.client.request("PUT", self._file_url(rel), content=body)

        self.session.send(attempt)

    def log_artifact(self, local_path, artifact_path: str | None = None) -> str:
        src = Path(local_path)
        if not src.is_file():
            raise InvalidInput(
                f"Cannot log artifact '{src}': it is not a file. Use log_artifacts() for "
                "directories."
            )
        rel = posixpath.join(check_relative(artifact_path), src.name)
        self._put(check_relative(rel), lambda: open(src, "rb"))
        return rel

    def log_artifacts(self, local_dir, artifact_path: str | None = None) -> list[str]:
        src_root = Path(local_dir)
        if not src_root.is_dir():
            raise InvalidInput(f"Cannot log artifacts from '{src_root}': it is not a directory.")
        base = check_relative(artifact_path)
        written = []
        for dirpath, _dirnames, filenames in os.walk(src_root):
            rel_dir = Path(dirpath).relative_to(src_root).as_posix()
            for name in sorted(filenames):
                parts = [p for p in (base, "" if rel_dir == "." else rel_dir, name) if p]
                rel = check_relative(posixpath.join(*parts))
                source = Path(dirpath) / name
                self._put(rel, lambda source=source: open(source, "rb"))
                written.append(rel)
        return written

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        rel = require_file_path(artifact_file)
        self.session.send(
            lambda: self.session.client.request("PUT", self._file_url(rel), content=data)
        )
        return rel

    # -- reading -------------------------------------------------------------------
    def _children(self, rel: str) -> list[FileInfo]:
        path = posixpath.join(self._list_root, rel) if rel else self._list_root
        response = self.session.send(
            lambda: self.session.client.get(self._list_url, params={"path": path})
        )
        infos = []
        for entry in response.json().get("files") or ():
            child = check_relative(posixpath.join(rel, entry["path"]) if rel else entry["path"])
            size = entry.get("file_size")
            infos.append(
                FileInfo(child, bool(entry.get("is_dir")), None if size is None else int(size))
            )
        return sorted(infos, key=lambda info: info.path)

    def _entry(self, rel: str) -> FileInfo | None:
        """The listing entry of `rel` itself, from its parent's listing."""
        if not rel:
            return FileInfo("", True, None)
        parent = posixpath.dirname(rel)
        return next((i for i in self._children(parent) if i.path == rel), None)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        rel = check_relative(path)
        children = self._children(rel)
        if children:
            return children
        entry = self._entry(rel) if rel else None  # a file lists as nothing: look it up
        return [entry] if entry is not None and not entry.is_dir else []

    def download_artifacts(self, path: str | None = None, dst_path=None) -> Path:
        rel = check_relative(path)
        entry = self._entry(rel)
        if entry is None:
            raise NotFound(
                f"Artifact '{rel or '/'}' does not exist under '{self.artifact_uri}'. "
                "List the run's artifacts to see what was logged."
            )
        dst = (
            Path(dst_path)
            if dst_path is not None
            else Path(tempfile.mkdtemp(prefix="mlc-artifacts-"))
        )
        dst.mkdir(parents=True, exist_ok=True)
        out = dst / posixpath.basename(rel) if rel else dst
        if entry.is_dir:
            out.mkdir(parents=True, exist_ok=True)
            self._download_tree(rel, out)
        else:
            self._download_file(rel, out)
        return out

    def _download_tree(self, rel: str, out: Path) -> None:
        for info in self._children(rel):
            inside = info.path[len(rel) :].lstrip("/") if rel else info.path
            target = resolve(out, inside)
            if info.is_dir:
                target.mkdir(parents=True, exist_ok=True)
                self._download_tree(info.path, target)
            else:
                self._download_file(info.path, target)

    def _download_file(self, rel: str, dest: Path) -> None:
        """Stream one file into `dest`; a body cut short is fetched again."""
        delays = self.session.retry.delays()
        while True:
            try:
                with self.session.stream("GET", self._file_url(rel)) as response:
                    atomic_write(dest, lambda fh: _copy_body(response, fh))
                return
            except httpx.TransportError:
                delay = next(delays, None)
                if delay is None:
                    raise
                time.sleep(delay)


def _copy_body(response: httpx.Response, fh) -> None:
    for chunk in response.iter_bytes(_CHUNK):
        fh.write(chunk)
