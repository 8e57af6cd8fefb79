"""A run's artifacts read by run id, whatever its artifact URI: MLflow's
`GET /mlflow/artifacts/list` (JSON) and `GET /get-artifact` (the file), which
MLflow's UI uses too.

A run's artifact URI is either under the server's artifacts destination
(`mlflow-artifacts:/...`) or a local directory (runs logged straight into the
store); both resolve to a local path here, with the same path checks as
every other artifact read (`tracking.artifacts.resolve`).
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from mlcadence.tracking import artifacts as store_artifacts
from mlcadence.tracking.errors import InvalidInput, NotFound
from mlcadence.tracking.server.artifacts import ROOT_URI
from mlcadence.tracking.server.context import ServerContext
from mlcadence.tracking.server.request import Fields


def run_artifact_root(ctx: ServerContext, run_id: str) -> Path:
    uri = ctx.client.get_run(run_id).info.artifact_uri
    if uri.startswith(ROOT_URI):
        if ctx.destination is None:
            raise InvalidInput(
                f"Run '{run_id}' keeps its artifacts at {uri}: start the server with "
                "--artifacts-destination to read them."
            )
        return ctx.destination.path(uri[len(ROOT_URI) :])
    return store_artifacts.artifact_root(uri)


def list_artifacts(ctx: ServerContext, f: Fields) -> dict:
    run_id = f.str("run_id", None, "run_uuid") or f.str("run_id")
    root = run_artifact_root(ctx, run_id)
    path = f.str("path", "") or ""
    files = []
    for info in store_artifacts.list_artifacts(str(root), path):
        if not info.is_dir and info.path == path.strip("/"):
            return {"root_uri": ctx.present(root.as_uri()), "files": []}
        record: dict = {"path": info.path, "is_dir": info.is_dir}
        if info.file_size is not None:
            record["file_size"] = info.file_size
        files.append(record)
    return {"root_uri": ctx.present(root.as_uri()), "files": files}


def _artifact_file(ctx: ServerContext, run_id: str, path: str) -> Path:
    target = store_artifacts.resolve(run_artifact_root(ctx, run_id), path)
    if not posixpath.basename(path) or not target.is_file():
        raise NotFound(
            f"Run '{run_id}' has no artifact file '{path}'. List its artifacts "
            "(/api/2.0/mlflow/artifacts/list) to see which files it holds."
        )
    return target


# Images the UI shows in place, by extension; every other file is text.
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}
TEXT_TYPE = "text/plain; charset=utf-8"
# Opened directly, an artifact (an SVG above all) is a sandboxed document that
# loads and runs nothing, so a logged file cannot act as a page of this origin.
ARTIFACT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
}


def media_type(path: str) -> str:
    return IMAGE_TYPES.get(posixpath.splitext(path)[1].lower(), TEXT_TYPE)


def get_artifact(ctx: ServerContext):
    async def endpoint(request: Request) -> Response:
        query = request.query_params
        run_id = query.get("run_id") or query.get("run_uuid")
        if not run_id:
            raise InvalidInput("Missing parameter 'run_id': name the run whose artifact to read.")
        path = query.get("path") or ""
        target = await run_in_threadpool(_artifact_file, ctx, run_id, path)
        return FileResponse(target, media_type=media_type(path), headers=ARTIFACT_HEADERS)

    return endpoint
