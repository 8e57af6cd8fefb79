"""The scoring server's HTTP layer: `create_app(settings)` -> a FastAPI app.

The app's state holds everything a request needs (`request.app.state`: the
scoring service, model holder, batcher, metrics, settings); the route
functions below only read it. /invocations is a plain Starlette route over the
raw body (no pydantic on the hot path); its OpenAPI entry is generated from
the model signature instead. Client faults are `ServingError`s answered in
MLflow's error JSON with a 4xx status; a fault of the server itself is a 500
in the same JSON, logged with its traceback.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import os
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from mlcadence.serving import protocol
from mlcadence.serving.batching import MicroBatcher
from mlcadence.serving.errors import (
    BadRequest,
    InternalError,
    ModelLoadError,
    NoModelLoaded,
    PayloadTooLarge,
    RequestTimeout,
    ServingError,
    Unauthenticated,
)
from mlcadence.serving.metrics import RequestMetricsMiddleware, ServerMetrics
from mlcadence.serving.model import LoadedModel, is_moving_uri
from mlcadence.serving.model import load as load_model
from mlcadence.serving.model import resolve_version as registry_version
from mlcadence.serving.openapi import invocations_openapi
from mlcadence.serving.reload import ModelHolder, Reloader
from mlcadence.serving.scoring import ScoringService, warm_up
from mlcadence.settings import ServingSettings

log = logging.getLogger("mlcadence.serving")

JSON = "application/json"
DEPRECATION_HEADERS = {
    "Deprecation": "true",
    "Warning": '299 mlcadence "The {columns, data} request shape is deprecated; send '
    '{dataframe_split: {columns, data}} instead."',
}


def _server_version() -> str:
    try:
        from importlib.metadata import version

        return version("mlcadence")
    except Exception:  # noqa: BLE001 - running from a source tree
        return "0.0.0"


def error_response(exc: ServingError) -> Response:
    return Response(
        protocol.dumps(exc.to_json()),
        status_code=exc.http_status,
        media_type=JSON,
        headers=exc.headers,
    )


# ------------------------------------------------------------------ /invocations
def check_token(request: Request, token: bytes) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
        raise Unauthenticated(
            "Missing or wrong bearer token: send 'Authorization: Bearer <token>' with the "
            "token the server was started with (MLCADENCE_SERVING_TOKEN).",
            headers={"WWW-Authenticate": "Bearer"},
        )


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
    return Response(protocol.dumps(body), status_code=200 if model else 503, media_type=JSON)


async def version(request: Request) -> Response:
    model = request.app.state.holder.current
    body = {
        "server": "mlcadence",
        "version": request.app.version,
        "model_name": model.name if model else None,
        "model_version": model.version if model else None,
    }
    return Response(protocol.dumps(body), media_type=JSON)


async def prometheus(request: Request) -> Response:
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


# ------------------------------------------------------------------ the app
def initial_model(uri: str, loader: Callable[[str], LoadedModel]) -> LoadedModel | None:
    """Load and warm up `uri` before any traffic. A URI the registry can move
    (alias, latest, stage) that cannot be loaded yet gives None (the server
    starts and answers 503 until the reloader finds it); any other failure raises."""
    try:
        model = loader(uri)
        warm_up(model)
        return model
    except Exception as exc:
        if is_moving_uri(uri):
            log.warning("starting without a model, will retry: %s", getattr(exc, "message", exc))
            return None
        if isinstance(exc, ServingError):
            raise
        raise ModelLoadError(
            f"Model {uri!r} loaded but failed its warm-up prediction: {type(exc).__name__}: {exc}"
        ) from exc


def create_app(
    settings: ServingSettings,
    *,
    model: LoadedModel | None = None,
    loader: Callable[[str], LoadedModel] | None = None,
    resolve_version: Callable[[str], str | None] = registry_version,
) -> FastAPI:
    """Build the app for `settings.model_uri` (or the given `model`) and load
    the model now. A URI that the registry can move is polled every
    `settings.reload_interval` seconds and hot-swapped."""
    uri = settings.model_uri or (model.uri if model else None)
    if not uri:
        raise ModelLoadError(
            "No model to serve: pass --model-uri (e.g. models:/name@champion) or set "
            "MLCADENCE_SERVING_MODEL_URI."
        )
    loader = loader or functools.partial(load_model, fast_path=settings.fast_path)
    metrics = ServerMetrics()
    holder = ModelHolder(uri)
    holder.on_swap.append(lambda m: metrics.set_model(m.name, m.version, m.uri))
    if model is None:
        model = initial_model(uri, loader)
    if model is not None:
        holder.swap(model)
    batcher = MicroBatcher(
        lambda m, data, params: m.predict(data, params),
        max_size=settings.batch_max_size,
        max_wait_s=settings.batch_max_wait_ms / 1000.0,
        on_batch=metrics.batch_size.observe,
    )
    reloader = Reloader(
        holder,
        interval=settings.reload_interval if is_moving_uri(uri) else 0,
        resolve_version=resolve_version,
        load=loader,
        warm_up=warm_up,
        on_result=metrics.note_reload,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        reloader.start()
        try:
            yield
        finally:
            reloader.stop()
            batcher.close()

    app = FastAPI(
        title="mlcadence scoring server",
        version=_server_version(),
        description=f"Scores `{uri}` in MLflow's scoring protocol (POST /invocations).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.token = (settings.token or "").encode()
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.batcher = batcher
    app.state.reloader = reloader
    app.state.scoring = ScoringService(holder, batcher)
    holder.on_swap.append(lambda m: setattr(app, "openapi_schema", None))

    app.add_route("/invocations", invocations, methods=["POST"], include_in_schema=False)
    app.get("/ping", summary="Liveness and readiness: 200 once a model is loaded")(ping)
    app.get("/health", summary="Which model is served, since when, and the last reload error")(
        health
    )
    app.get("/version", summary="Server and model version")(version)
    app.get("/metrics", summary="Prometheus metrics")(prometheus)
    app.openapi = functools.partial(openapi, app)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
