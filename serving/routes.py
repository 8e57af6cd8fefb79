"""The scoring server's routes. Each reads what it needs from the
application state (`request.app.state`: settings, token, scoring service,
model holder, batcher, metrics) that `app.create_app` sets up.

/invocations is a plain Starlette route over the raw body (no pydantic on the
hot path). Client faults are `ServingError`s answered in MLflow's error JSON
with a 4xx status; a fault of the server itself is a 500 in the same JSON,
logged with its traceback.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import os
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mlcadence.serving import protocol
from mlcadence.serving.errors import (
    BadRequest,
    ClientClosed,
    EndpointNotFound,
    InternalError,
    NoModelLoaded,
    PayloadTooLarge,
    RequestTimeout,
    ServingError,
    Unauthenticated,
)
from mlcadence.serving.openapi import invocations_openapi
from mlcadence.serving.reload import ModelHolder

log = logging.getLogger("mlcadence.serving")

JSON = "application/json"
DEPRECATION_HEADERS = {
    "Deprecation": "true",
    "Warning": '299 mlcadence "The {columns, data} request shape is deprecated; send '
    '{dataframe_split: {columns, data}} instead."',
}


def error_response(exc: ServingError) -> Response:
    return Response(
        protocol.dumps(exc.to_json()),
        status_code=exc.http_status,
        media_type=JSON,
        headers=exc.headers,
    )


# ------------------------------------------------------------------ /invocations
def token_matches(request: Request, token: bytes) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    # Starlette decodes header bytes as latin-1; encoding back gives the bytes
    # the client sent, so a UTF-8 token compares with the configured one.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("latin-1"), token
    )


def check_token(request: Request, token: bytes) -> None:
    if not token_matches(request, token):
        raise Unauthenticated(
            "Missing or wrong bearer token: send 'Authorization: Bearer <token>' with the "
            "token the server was started with (MLCADENCE_SERVING_TOKEN).",
            headers={"WWW-Authenticate": "Bearer"},
        )


def info_refused(request: Request) -> Response | None:
    """The 401 for /metrics, /version, /docs and /openapi.json when a token
    is set, not given, and those endpoints were not opened; else None."""
    state = request.app.state
    if not state.token or state.settings.open_info_endpoints:
        return None
    try:
        check_token(request, state.token)
    except Unauthenticated as exc:
        return error_response(exc)
    return None


async def read_body(request: Request, max_body: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise BadRequest(f"Invalid Content-Length header {length!r}.") from None
        if declared > max_body:
            raise PayloadTooLarge(
                f"Request body of {declared} bytes exceeds the limit of {max_body} bytes; "
                "split the input into smaller requests."
            )
        return await request.body()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise PayloadTooLarge(
                f"Request body exceeds the limit of {max_body} bytes; split the input "
                "into smaller requests."
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def score_request(request: Request) -> Response:
    state = request.app.state
    if state.token:
        check_token(request, state.token)
    media_type = protocol.parse_content_type(request.headers.get("content-type"))
    body = await read_body(request, state.settings.max_body_bytes)
    scored = await state.scoring.score(body, media_type)
    headers = DEPRECATION_HEADERS if scored.deprecated else None
    return Response(scored.body, media_type=JSON, headers=headers)


async def invocations(request: Request) -> Response:
    state = request.app.state
    timeout = state.settings.timeout
    started = time.perf_counter()
    with state.batcher.request():
        try:
            async with asyncio.timeout(timeout):
                response = await score_request(request)
        except ServingError as exc:
            response = error_response(exc)
        except ClientDisconnect:
            # The client went away mid-request: not a fault of ours, nothing to alert on.
            log.debug("client disconnected before its request was read")
            response = error_response(ClientClosed("The client closed the connection."))
        except TimeoutError:
            response = error_response(
                RequestTimeout(
                    f"Request processing time exceeded the limit of {timeout} s; send smaller "
                    "inputs or raise the server's --timeout."
                )
            )
        except Exception as exc:  # noqa: BLE001 - a bug of ours: 500, with the traceback logged
            log.exception("unexpected error while handling a request")
            response = error_response(
                InternalError(
                    f"The server failed while handling the request ({type(exc).__name__}); "
                    "this is a server fault, see the server log."
                )
            )
    state.metrics.latency.observe(time.perf_counter() - started)
    return response


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
