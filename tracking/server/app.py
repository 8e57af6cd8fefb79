"""`create_app`: MLflow's tracking REST API over any of our backends.

Each row of `routes.ROUTES` becomes one Starlette route per API prefix. A
route function is plain and blocking (`handler(ctx, fields) -> dict`); it
runs in Starlette's thread pool so the event loop never waits on a store.
Every `MlcadenceError` becomes MLflow's error JSON with the status of
`mlcadence.errors.HTTP_STATUS`; anything else is a logged 500.
"""

from __future__ import annotations

import json
import logging
import os

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from mlcadence.errors import MlcadenceError
from mlcadence.tracking.backends import build_backend
from mlcadence.tracking.client import Client
from mlcadence.tracking.conventions import DEFAULT_EXPERIMENT_ID
from mlcadence.tracking.errors import InvalidInput, NotFound
from mlcadence.tracking.server import artifacts, deployments, run_artifacts
from mlcadence.tracking.server.artifacts import ArtifactDestination
from mlcadence.tracking.server.auth import READ, WRITE, TokenAuth
from mlcadence.tracking.server.context import ServerContext
from mlcadence.tracking.server.request import Fields, parse_json_body, query_fields
from mlcadence.tracking.server.routes import PREFIXES, ROUTES
from mlcadence.tracking.server.ui import ui_routes
from mlcadence.tracking.server.ui.pages_api import UI_ROUTES
from mlcadence.tracking.tracking_uri import normalize_uri
from mlcadence.version import __version__

log = logging.getLogger("mlcadence.tracking.server")

JSON = "application/json"


def error_response(exc: MlcadenceError) -> Response:
    return Response(json.dumps(exc.to_json()), status_code=exc.http_status, media_type=JSON)


def _internal_error(request: Request, exc: Exception) -> Response:
    # The path only: a query string or header could carry something private.
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    body = {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}
    return Response(json.dumps(body), status_code=500, media_type=JSON)


def _json_endpoint(handler, scope: str, is_get: bool, ctx: ServerContext, auth: TokenAuth | None):
    async def endpoint(request: Request) -> Response:
        try:
            if auth:
                auth.check(request.headers.get("authorization"), scope)
            if is_get:
                data = query_fields(request.query_params.multi_items())
            else:
                data = parse_json_body(await request.body())
            if request.path_params:
                data.update(request.path_params)
            result = await run_in_threadpool(handler, ctx, Fields(data))
        except MlcadenceError as exc:
            return error_response(exc)
        except Exception as exc:  # noqa: BLE001 - becomes a logged 500
            return _internal_error(request, exc)
        return Response(json.dumps(result), media_type=JSON)

    return endpoint


def _guarded(call, scope: str, auth: TokenAuth | None):
    """A raw endpoint (artifacts) behind the same auth and error handling."""

    async def endpoint(request: Request) -> Response:
        try:
            if auth:
                auth.check(request.headers.get("authorization"), scope)
            return await call(request)
        except MlcadenceError as exc:
            return error_response(exc)
        except Exception as exc:  # noqa: BLE001 - becomes a logged 500
            return _internal_error(request, exc)

    return endpoint


def _artifact_routes(ctx: ServerContext, auth: TokenAuth | None) -> list[Route]:
    destination = ctx.destination
    if destination is None:

        async def disabled(_request: Request) -> Response:
            raise InvalidInput(
                "This server does not serve artifacts: start it with --artifacts-destination."
            )

        upload = download = listing = disabled
    else:

        async def upload(request: Request) -> Response:
            return await artifacts.upload(request, destination)

        async def download(request: Request) -> Response:
            return await artifacts.download(request, destination)

        async def listing(request: Request) -> Response:
            path = request.query_params.get("path")
            files = await run_in_threadpool(artifacts.list_files, destination, path)
            return Response(json.dumps(files), media_type=JSON)

    base = "/api/2.0/mlflow-artifacts/artifacts"
    return [
        Route(f"{base}/{{artifact_path:path}}", _guarded(upload, WRITE, auth), methods=["PUT"]),
        Route(f"{base}/{{artifact_path:path}}", _guarded(download, READ, auth), methods=["GET"]),
        Route(base, _guarded(listing, READ, auth), methods=["GET"]),
    ]


def _health(ctx: ServerContext):
    def backend_reachable() -> None:
        try:
            ctx.runs.get_experiment(DEFAULT_EXPERIMENT_ID)
        except NotFound:
            pass  # answered: the store is there

    async def health(_request: Request) -> Response:
        try:
            await run_in_threadpool(backend_reachable)
        except Exception as exc:  # noqa: BLE001 - reported as unhealthy
            log.warning("health check: backend unreachable: %s", type(exc).__name__)
            return PlainTextResponse("backend unreachable", status_code=503)
        return PlainTextResponse("OK")

    return health


async def _version(_request: Request) -> Response:
    return PlainTextResponse(__version__)


# MLflow 3 clients ask what the server supports before some calls, and ask
# again on every call while the answer is not a 200: we support none of the
# optional features it lists.
SERVER_INFO = {
    "store_type": None,
    "workspaces_enabled": False,
    "trace_archival_enabled": False,
    "multipart_uploads_enabled": False,
    "multipart_downloads_enabled": False,
    "presigned_upload_run_id_supported": False,
    "presigned_upload_model_id_supported": False,
    "features_enabled": {"gateway": False},
}


async def _server_info(_request: Request) -> Response:
    return Response(json.dumps(SERVER_INFO), media_type=JSON)


def _not_found(auth: TokenAuth | None):
    async def not_found(request: Request, _exc) -> Response:
        if auth:
            try:
                auth.check(request.headers.get("authorization"), READ)
            except MlcadenceError as exc:
                return error_response(exc)
        body = {
            "error_code": "ENDPOINT_NOT_FOUND",
            "message": f"No endpoint {request.method} {request.url.path}; see MLflow's REST API "
            "(/api/2.0/mlflow/...).",
        }
        return Response(json.dumps(body), status_code=404, media_type=JSON)

    return not_found


def create_app(
    backend_uri: str,
    artifacts_destination: str | os.PathLike | None,
    auth: TokenAuth | None = None,
    *,
    fsync: bool = False,
    prefect_ui_url: str | None = None,
) -> FastAPI:
    """The tracking server's app over the store at `backend_uri`. With an
    `artifacts_destination`, artifacts are served from it and new
    experiments get `mlflow-artifacts:/<id>` locations. With a
    `prefect_ui_url`, the web UI links runs to their Prefect flow runs."""
    uri = normalize_uri(os.fspath(backend_uri))
    destination = ArtifactDestination(artifacts_destination) if artifacts_destination else None
    options: dict = {"fsync": fsync}
    if destination is not None:
        options["experiment_artifact_root"] = artifacts.ROOT_URI
    client = Client(uri, backend=build_backend(uri, **options))
    ctx = ServerContext(client=client, destination=destination, prefect_ui_url=prefect_ui_url)

    routes: list[Route] = [
        Route("/health", _health(ctx), methods=["GET"]),
        Route("/version", _version, methods=["GET"]),
    ]
    for row in ROUTES:
        endpoint = _json_endpoint(row.handler, row.scope, row.method == "GET", ctx, auth)
        routes.extend(
            Route(prefix + row.path, endpoint, methods=[row.method]) for prefix in PREFIXES
        )
    routes.extend(_artifact_routes(ctx, auth))
    routes.append(
        Route(
            "/get-artifact", _guarded(run_artifacts.get_artifact(ctx), READ, auth), methods=["GET"]
        )
    )
    routes.extend(
        Route(row.path, _json_endpoint(row.handler, row.scope, True, ctx, auth), methods=["GET"])
        for row in UI_ROUTES
    )
    routes.extend(ui_routes())
    routes.extend(
        Route(path, _guarded(endpoint(ctx), READ, auth), methods=["GET"])
        for path, endpoint in (
            ("/ui/deployments", deployments.listing),
            ("/ui/deployments/health", deployments.health),
        )
    )
    routes.extend(
        Route(f"{prefix}/mlflow/server-info", _guarded(_server_info, READ, auth), methods=["GET"])
        for prefix in ("/api/3.0", "/ajax-api/3.0")
    )

    not_found = _not_found(auth)
    app = FastAPI(
        title="mlcadence tracking server",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        exception_handlers={404: not_found, 405: not_found},
    )
    app.router.routes.extend(routes)
    app.state.context = ctx
    return app
