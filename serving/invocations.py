"""POST /invocations as a raw ASGI endpoint: the scoring hot path.

Every other route goes through FastAPI's stack (error middleware, exception
handlers, the router, a Request object, a Response object). For /invocations
that stack cost more CPU than parsing, checking and predicting together, so
`ScoringApp` hands it this endpoint directly, and the endpoint does the little
it needs itself: one pass over the headers, the body read from `receive` with
its size limit, and one `http.response.start` + `http.response.body`. What it
answers is the same as before: predictions JSON, or MLflow's error JSON with
the status of the error's code.
"""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import FastAPI

from mlcadence.serving import protocol
from mlcadence.serving.auth import require_bearer
from mlcadence.serving.errors import (
    BadRequest,
    ClientClosed,
    InternalError,
    PayloadTooLarge,
    RequestTimeout,
    ServingError,
)

log = logging.getLogger("mlcadence.serving")

PATH = "/invocations"
JSON_HEADER = (b"content-type", b"application/json")
DEPRECATION_HEADERS = {
    "Deprecation": "true",
    "Warning": '299 mlcadence "The {columns, data} request shape is deprecated; send '
    '{dataframe_split: {columns, data}} instead."',
}


class _Disconnected(Exception):
    """The client closed the connection before its body was read."""


class RequestHead:
    """The three headers /invocations reads, from one pass over the list."""

    __slots__ = ("authorization", "content_length", "content_type")

    def __init__(self, headers: list[tuple[bytes, bytes]]):
        self.authorization = b""
        self.content_length: bytes | None = None
        self.content_type: bytes | None = None
        for name, value in headers:
            if name == b"content-type":
                self.content_type = value
            elif name == b"content-length":
                self.content_length = value
            elif name == b"authorization":
                self.authorization = value


def _too_large(max_body: int, declared: int | None = None) -> PayloadTooLarge:
    size = f"of {declared} bytes " if declared is not None else ""
    return PayloadTooLarge(
        f"Request body {size}exceeds the limit of {max_body} bytes; split the input into "
        "smaller requests."
    )


async def read_body(receive, head: RequestHead, max_body: int) -> bytes:
    if head.content_length is not None:
        try:
            declared = int(head.content_length)
        except ValueError:
            text = head.content_length.decode("latin-1")
            raise BadRequest(f"Invalid Content-Length header {text!r}.") from None
        if declared > max_body:
            raise _too_large(max_body, declared)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        if not chunks and not more:
            if len(chunk) > max_body:
                raise _too_large(max_body)
            return chunk  # the usual case: the whole body in one message
        size += len(chunk)
        if size > max_body:
            raise _too_large(max_body)
        chunks.append(chunk)
        if not more:
            return b"".join(chunks)


def _encode_headers(extra: dict[str, str] | None) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (extra or {}).items()]


async def respond(send, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
    headers = [JSON_HEADER, (b"content-length", str(len(body)).encode())]
    if extra:
        headers += _encode_headers(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _score(app: FastAPI, scope, receive) -> tuple[int, bytes, dict | None]:
    state = app.state
    head = RequestHead(scope["headers"])
    if state.token:
        require_bearer(head.authorization, state.token)
    media_type = protocol.parse_content_type(
        head.content_type.decode("latin-1") if head.content_type is not None else None
    )
    body = await read_body(receive, head, state.settings.max_body_bytes)
    scored = await state.scoring.score(body, media_type)
    return 200, scored.body, DEPRECATION_HEADERS if scored.deprecated else None


def _error(exc: ServingError) -> tuple[int, bytes, dict | None]:
    return exc.http_status, protocol.dumps(exc.to_json()), exc.headers


async def invocations(app: FastAPI, scope, receive, send) -> None:
    state = app.state
    timeout = state.settings.timeout
    started = time.perf_counter()
    with state.batcher.request():
        try:
            async with asyncio.timeout(timeout):
                status, body, extra = await _score(app, scope, receive)
        except ServingError as exc:
            status, body, extra = _error(exc)
        except _Disconnected:
            # The client went away mid-request: not a fault of ours, nothing to alert on.
            log.debug("client disconnected before its request was read")
            status, body, extra = _error(ClientClosed("The client closed the connection."))
        except TimeoutError:
            status, body, extra = _error(
                RequestTimeout(
                    f"Request processing time exceeded the limit of {timeout} s; send smaller "
                    "inputs or raise the server's --timeout."
                )
            )
        except Exception as exc:  # noqa: BLE001 - a bug of ours: 500, with the traceback logged
            log.exception("unexpected error while handling a request")
            status, body, extra = _error(
                InternalError(
                    f"The server failed while handling the request ({type(exc).__name__}); "
                    "this is a server fault, see the server log."
                )
            )
    await respond(send, status, body, extra)
    state.metrics.record(PATH, status)
    state.metrics.latency.observe(time.perf_counter() - started)


class Endpoint:
    """The same handler as a router endpoint (Starlette calls a non-function
    endpoint as an ASGI app): the router still answers 405 for other methods."""

    async def __call__(self, scope, receive, send) -> None:
        await invocations(scope["app"], scope, receive, send)


class ScoringApp(FastAPI):
    """FastAPI for every route but POST /invocations, which skips the stack."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST":
            scope["app"] = self
            return await invocations(self, scope, receive, send)
        return await super().__call__(scope, receive, send)
