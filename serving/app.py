"""The scoring server: `create_app(model_uri)` -> a FastAPI app.

/invocations is a plain Starlette route over the raw body (no pydantic on the
hot path); its OpenAPI entry is generated from the model signature instead.
Every error a client can cause is a `ServingError` answered in MLflow's error
JSON; anything unexpected while handling a request's input is still a 400, so
no request can produce a 500.
"""

from __future__ import annotations

import asyncio
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
from mlcadence.serving.config import ServerConfig
from mlcadence.serving.convert import to_model_input
from mlcadence.serving.errors import (
    BadRequest,
    ModelFailed,
    ModelLoadError,
    NoModelLoaded,
    PayloadTooLarge,
    RequestTimeout,
    ServingError,
    Unauthenticated,
)
from mlcadence.serving.metrics import ServerMetrics
from mlcadence.serving.model import LoadedModel, is_moving_uri
from mlcadence.serving.model import load as load_model
from mlcadence.serving.model import resolve_version as registry_version
from mlcadence.serving.openapi import invocations_openapi
from mlcadence.serving.reload import ModelHolder, Reloader

log = logging.getLogger("mlcadence.serving")

JSON = "application/json"
# Bodies above this are parsed in a thread so one big request does not stall
# every other connection's event loop.
PARSE_IN_THREAD_BYTES = 256 * 1024
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


def warm_up(model: LoadedModel) -> None:
    """One prediction through the real request path before a model takes traffic."""
    example = model.serving_example
    if example is None and model.schema is not None and model.schema.all_numeric:
        example = {
            "dataframe_split": {
                "columns": list(model.schema.names) or None,
                "data": [[0] * len(model.schema.columns)],
            }
        }
        if example["dataframe_split"]["columns"] is None:
            del example["dataframe_split"]["columns"]
    if example is None:
        return
    payload = protocol.payload_from_json(example)
    model.predict(
        to_model_input(payload, model.schema, want_frame=model.wants_frame).data, payload.params
    )


class _RequestMetrics:
    """Pure ASGI middleware: counts every response by path and status."""

    def __init__(self, app, metrics: ServerMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.record(scope["path"], status)


def create_app(
    model_uri: str | None = None,
    *,
    config: ServerConfig | None = None,
    model: LoadedModel | None = None,
    loader: Callable[[str], LoadedModel] = load_model,
    resolve_version: Callable[[str], str | None] = registry_version,
) -> FastAPI:
    """Build the app and load the model now (before any traffic).

    A URI that the registry can move (`models:/name@alias`, `/latest`, a stage)
    is polled every `config.reload_interval` seconds and hot-swapped. If such a
    URI cannot be loaded yet (e.g. the alias is not set), the server still
    starts and answers 503 until it can; any other load failure raises.
    """
    config = config or ServerConfig.from_env()
    uri = model_uri or config.model_uri or (model.uri if model else None)
    if not uri:
        raise ModelLoadError("No model to serve: pass a model URI (e.g. models:/name@champion).")
    metrics = ServerMetrics()
    holder = ModelHolder(uri)
    holder.on_swap.append(lambda m: metrics.set_model(m.name, m.version, m.uri))
    if model is None:
        try:
            model = loader(uri)
            warm_up(model)
        except Exception as exc:
            if not is_moving_uri(uri):
                if isinstance(exc, ServingError):
                    raise
                raise ModelLoadError(
                    f"Model {uri!r} loaded but failed its warm-up prediction: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            log.warning("starting without a model, will retry: %s", getattr(exc, "message", exc))
            model = None
    if model is not None:
        holder.swap(model)

    def on_batch(n: int) -> None:
        metrics.batch_size.observe(n)

    batcher = MicroBatcher(
        lambda m, data, params: m.predict(data, params),
        max_size=config.batch_max_size,
        max_wait_s=config.batch_max_wait_ms / 1000.0,
        on_batch=on_batch,
    )
    reloader = Reloader(
        holder,
        interval=config.reload_interval if is_moving_uri(uri) else 0,
        resolve_version=resolve_version,
        load=loader,
        warm_up=warm_up,
        on_result=lambda ok: (
            metrics.reloads.labels("success" if ok else "failure").inc(),
            metrics.reload_failing.set(0 if ok else 1),
        ),
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
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.batcher = batcher
    app.state.reloader = reloader
    app.state.config = config
    holder.on_swap.append(lambda m: setattr(app, "openapi_schema", None))

    token = (config.token or "").encode()
    timeout = config.timeout
    max_body = config.max_body_bytes

    def check_token(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
            raise Unauthenticated(
                "Missing or wrong bearer token: send 'Authorization: Bearer <token>' with the "
                "token the server was started with (MLCADENCE_SERVING_TOKEN).",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def read_body(request: Request) -> bytes:
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

    def parse(body: bytes, media_type: str, model: LoadedModel):
        payload = protocol.parse_body(body, media_type)
        return payload, to_model_input(payload, model.schema, want_frame=model.wants_frame)

    async def score(request: Request) -> Response:
        if token:
            check_token(request)
        media_type = protocol.parse_content_type(request.headers.get("content-type"))
        body = await read_body(request)
        model = holder.current
        if model is None:
            raise NoModelLoaded(_no_model_message(holder))
        if len(body) > PARSE_IN_THREAD_BYTES:
            payload, model_input = await asyncio.to_thread(parse, body, media_type, model)
        else:
            payload, model_input = parse(body, media_type, model)
        try:
            predictions = await batcher.submit(model, model_input)
        except ServingError:
            raise
        except Exception as exc:  # noqa: BLE001 - the model could not take this input
            raise ModelFailed(
                f"Encountered an unexpected error while evaluating the model: "
                f"{type(exc).__name__}: {exc}. Verify that the input is compatible with the model."
            ) from exc
        headers = DEPRECATION_HEADERS if payload.deprecated else None
        return Response(protocol.predictions_json(predictions), media_type=JSON, headers=headers)

    async def invocations(request: Request) -> Response:
        started = time.perf_counter()
        batcher.in_flight += 1
        try:
            async with asyncio.timeout(timeout):
                response = await score(request)
        except ServingError as exc:
            response = error_response(exc)
        except TimeoutError:
            response = error_response(
                RequestTimeout(
                    f"Request processing time exceeded the limit of {timeout} s; send smaller "
                    "inputs or raise the server's --timeout."
                )
            )
        except Exception as exc:  # noqa: BLE001 - nothing a client sends may become a 500
            log.exception("unexpected error while handling a request")
            response = error_response(
                BadRequest(
                    f"The request could not be processed ({type(exc).__name__}); check that it "
                    "follows the scoring protocol: see /docs."
                )
            )
        finally:
            batcher.in_flight -= 1
        metrics.latency.observe(time.perf_counter() - started)
        return response

    app.add_route("/invocations", invocations, methods=["POST"], include_in_schema=False)

    @app.get("/ping", summary="Liveness and readiness: 200 once a model is loaded")
    async def ping() -> Response:
        if holder.current is None:
            return error_response(NoModelLoaded(_no_model_message(holder)))
        return Response("\n", media_type=JSON)

    @app.get("/health", summary="Which model is served, since when, and the last reload error")
    async def health() -> Response:
        model = holder.current
        body = {
            "status": "ok" if model is not None else "unavailable",
            "model": model.describe() if model is not None else None,
            "uri": holder.uri,
            "last_reload_error": holder.last_failure.describe() if holder.last_failure else None,
            "pid": os.getpid(),
            "batching": {"max_size": batcher.max_size, "max_wait_ms": batcher.max_wait_s * 1000},
        }
        return Response(protocol.dumps(body), status_code=200 if model else 503, media_type=JSON)

    @app.get("/version", summary="Server and model version")
    async def version() -> Response:
        model = holder.current
        body = {
            "server": "mlcadence",
            "version": app.version,
            "model_name": model.name if model else None,
            "model_version": model.version if model else None,
        }
        return Response(protocol.dumps(body), media_type=JSON)

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            invocations_openapi(schema, holder.current)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    app.add_middleware(_RequestMetrics, metrics=metrics)
    return app


def _no_model_message(holder: ModelHolder) -> str:
    reason = f" Last error: {holder.last_failure.message}" if holder.last_failure else ""
    return (
        f"No model is loaded yet for {holder.uri!r}; retry shortly (the server polls the "
        f"registry).{reason}"
    )
