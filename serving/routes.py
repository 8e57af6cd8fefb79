"""The scoring server's GET routes. Each reads what it needs from the
application state (`request.app.state`: settings, token, model holder,
batcher, metrics) that `app.create_app` sets up. POST /invocations, the hot
path, is a raw ASGI endpoint of its own (`serving.invocations`).
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from mlcadence.serving import protocol
from mlcadence.serving.auth import bearer_matches, require_bearer
from mlcadence.serving.errors import (
    EndpointNotFound,
    NoModelLoaded,
    ServingError,
    Unauthenticated,
)
from mlcadence.serving.openapi import invocations_openapi
from mlcadence.serving.reload import ModelHolder

log = logging.getLogger("mlcadence.serving")

JSON = "application/json"


def error_response(exc: ServingError) -> Response:
    return Response(
        protocol.dumps(exc.to_json()),
        status_code=exc.http_status,
        media_type=JSON,
        headers=exc.headers,
    )


def token_matches(request: Request, token: bytes) -> bool:
    # Starlette decodes header bytes as latin-1; encoding back gives the bytes
    # the client sent, so a UTF-8 token compares with the configured one.
    return bearer_matches(request.headers.get("authorization", "").encode("latin-1"), token)


def info_refused(request: Request) -> Response | None:
    """The 401 for /metrics, /version, /docs and /openapi.json when a token
    is set, not given, and those endpoints were not opened; else None."""
    state = request.app.state
    if not state.token or state.settings.open_info_endpoints:
        return None
    try:
        require_bearer(request.headers.get("authorization", "").encode("latin-1"), state.token)
    except Unauthenticated as exc:
        return error_response(exc)
    return None


# ------------------------------------------------------------------ other routes
async def ping(request: Request) -> Response:
    holder: ModelHolder = request.app.state.holder
    if holder.current is None:
        return error_response(NoModelLoaded(holder.unavailable_message()))
    return Response("\n", media_type=JSON)


async def health(request: Request) -> Response:
    state = request.app.state
    holder: ModelHolder = state.holder
    model = holder.current
    status = 200 if model else 503
    if state.token and not token_matches(request, state.token):
        # Load balancers probe without the token: they get the state and which
        # version serves, never paths, pids or error texts.
        served = {"name": model.name, "version": model.version} if model is not None else None
        body = {"status": "ok" if model is not None else "unavailable", "model": served}
        return Response(protocol.dumps(body), status_code=status, media_type=JSON)
    body = {
        "status": "ok" if model is not None else "unavailable",
        "model": model.describe() if model is not None else None,
        "uri": holder.uri,
        "last_reload_error": holder.last_failure.describe() if holder.last_failure else None,
        "pid": os.getpid(),
        "batching": {
            "max_size": state.batcher.max_size,
            "max_wait_ms": state.batcher.max_wait_s * 1000,
        },
    }
    return Response(protocol.dumps(body), status_code=status, media_type=JSON)


async def version(request: Request) -> Response:
    if refused := info_refused(request):
        return refused
    model = request.app.state.holder.current
    body = {
        "server": "mlcadence",
        "version": request.app.version,
        "model_name": model.name if model else None,
        "model_version": model.version if model else None,
    }
    return Response(protocol.dumps(body), media_type=JSON)


async def prometheus(request: Request) -> Response:
    if refused := info_refused(request):
        return refused
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document for the routes, plus /invocations from the signature;
    rebuilt after a hot swap (the holder's swap hook clears the cache)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        invocations_openapi(schema, app.state.holder.current)
        app.openapi_schema = schema
    return app.openapi_schema


async def openapi_document(request: Request) -> Response:
    if refused := info_refused(request):
        return refused
    return Response(protocol.dumps(openapi(request.app)), media_type=JSON)


async def docs(request: Request) -> Response:
    if refused := info_refused(request):
        return refused
    from fastapi.openapi.docs import get_swagger_ui_html

    # The document is embedded rather than fetched: the page's own request for
    # /openapi.json would carry no token.
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=f"{request.app.title} - docs",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        # No validator badge: it is an image fetched from swagger.io.
        swagger_ui_parameters={"spec": openapi(request.app), "validatorUrl": None},
    )


# /docs renders from files shipped in the package, never from a CDN: a
# scoring server often runs where nothing outside is reachable.
DOCS_ASSETS = "/docs/assets"
SWAGGER_UI_DIR = Path(__file__).parent / "swagger_ui"
SWAGGER_UI_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


@functools.cache
def _swagger_ui_file(name: str) -> bytes:
    return (SWAGGER_UI_DIR / name).read_bytes()


async def docs_asset(request: Request) -> Response:
    if refused := info_refused(request):
        return refused
    name = request.path_params["name"]
    if name not in SWAGGER_UI_FILES:
        return error_response(
            EndpointNotFound(
                f"No docs asset {name!r}; /docs needs only {sorted(SWAGGER_UI_FILES)}."
            )
        )
    return Response(
        _swagger_ui_file(name),
        media_type=SWAGGER_UI_FILES[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )


# GET routes: path, handler, summary (for the OpenAPI document).
GET_ROUTES = (
    ("/ping", ping, "Liveness and readiness: 200 once a model is loaded"),
    ("/health", health, "Which model is served, since when, and the last reload error"),
    ("/version", version, "Server and model version"),
    ("/metrics", prometheus, "Prometheus metrics"),
)
# Served outside the OpenAPI document they produce.
UNDOCUMENTED_GET_ROUTES = (
    ("/openapi.json", openapi_document),
    ("/docs", docs),
    (DOCS_ASSETS + "/{name}", docs_asset),
)
