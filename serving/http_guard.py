"""Connection limits uvicorn's fast HTTP parser lacks: request-head size,
request-head read time and the number of open connections.

uvicorn's httptools protocol reads a request head for as long as the client
keeps sending it, of any size (httptools buffers a header value whole), and
accepts any number of connections. `GuardedHttpToolsProtocol` is that same
protocol plus three checks, each a few attribute reads per received chunk, so
normal traffic keeps the fast parser's speed:

- a head over `max_header_bytes` is answered 431 and the connection closed,
  before more than one read chunk (at most 256 KiB) past the limit is held;
- a head not complete `header_timeout` seconds after its first byte (or a new
  connection that sends nothing for that long) is answered 408 (or, having
  sent nothing, just closed), checked a few times per timeout (slowloris);
- a connection beyond `max_connections` is answered 503 and closed at once.

It also sends what one turn of the event loop writes in one system call
(`CoalescingTransport`): uvicorn writes a response's head and body apart,
and on loopback the second send cost as much as the whole scoring.

Answers are MLflow's error JSON, like every other error of the server.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from mlcadence.serving import protocol
from mlcadence.serving.errors import (
    HeadersTooLarge,
    HeaderTimeout,
    ServingError,
    TooManyConnections,
)


class HeadLimitExceeded(Exception):
    """Raised inside a parser callback to stop parsing an over-limit head."""


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout: float
    max_connections: int


def error_reply(exc: ServingError) -> bytes:
    """A whole HTTP response for `exc`, closing the connection (written raw:
    these answers happen outside any ASGI request)."""
    body = protocol.dumps(exc.to_json())
    return b"".join(
        [
            STATUS_LINE[exc.http_status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class HeadDeadlineSweeper:
    """One periodic check per server of every connection's head deadline.

    A timer per request (armed at its first byte, cancelled at the end of its
    headers) costs more than the rest of the guard; a deadline is just a float
    to set, and this sweep closes the late ones a fraction of the timeout
    after they are due. It runs while the server has connections."""

    _running: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def watch(cls, server_state: ServerState, loop: asyncio.AbstractEventLoop, timeout: float):
        if server_state not in cls._running:
            cls._running[server_state] = True
            interval = min(1.0, timeout / 4)
            loop.call_later(interval, cls._sweep, server_state, loop, interval)

    @classmethod
    def _sweep(cls, server_state: ServerState, loop: asyncio.AbstractEventLoop, interval: float):
        now = loop.time()
        for connection in list(server_state.connections):
            deadline = getattr(connection, "head_deadline", None)
            if deadline is not None and now >= deadline:
                connection.head_timed_out()
        if server_state.connections:
            loop.call_later(interval, cls._sweep, server_state, loop, interval)
        else:
            del cls._running[server_state]


class CoalescingTransport:
    """A transport whose writes within one event-loop turn leave as one send.

    Stands in for the connection's transport everywhere in the protocol, so a
    close (keep-alive off, a refusal) always sends what is pending first."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `ConnectionLimits` enforced.

    uvicorn builds one per connection as `http(config=..., server_state=...,
    app_state=...)`; pass `functools.partial(GuardedHttpToolsProtocol,
    limits=...)` as uvicorn's `http` (a partial pickles, so workers get it)."""

    def __init__(self, *args, limits: ConnectionLimits, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.reading_head = False
        self.head_bytes = 0  # bytes of the current head received in earlier chunks
        self.chunk_bytes = 0  # size of the chunk being parsed
        # loop time by which the current head must be complete (None: no head due)
        self.head_deadline: float | None = None
        self.refusal: ServingError | None = None  # raised from a parser callback

    # ------------------------------------------------------------ connection
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
        if len(self.connections) > self.limits.max_connections:
            self.refuse(
                TooManyConnections(
                    f"The server already has {self.limits.max_connections} open connections; "
                    "retry later, or raise the limit (--max-connections / "
                    "MLCADENCE_SERVING_MAX_CONNECTIONS)."
                )
            )
            return
        # A connection that never sends a byte is closed too.
        self.head_deadline = self.loop.time() + self.limits.header_timeout
        HeadDeadlineSweeper.watch(self.server_state, self.loop, self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.head_deadline = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.chunk_bytes = len(data)
        super().data_received(data)
        # A head still incomplete after this chunk: all of the chunk was head
        # (only a pipelined request's tail is over-counted, by under a chunk).
        if self.reading_head and not self.transport.is_closing():
            self.head_bytes += len(data)
            if self.head_bytes > self.limits.max_header_bytes:
                self.refuse(self.headers_too_large())

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers any parser error 400; ours says why it stopped the parser.
        if self.refusal is not None:
            self.refuse(self.refusal)
        else:
            super().send_400_response(msg)

    # ------------------------------------------------------- parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.reading_head = True
        self.head_bytes = 0
        if self.head_deadline is None:
            self.head_deadline = self.loop.time() + self.limits.header_timeout

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self.head_deadline = None
        # Only a head that may be over the limit is measured: normal requests
        # arrive in chunks smaller than the limit and skip this.
        if (
            self.head_bytes + self.chunk_bytes > self.limits.max_header_bytes
            and self.head_size() > self.limits.max_header_bytes
        ):
            self.refusal = self.headers_too_large()
            raise HeadLimitExceeded  # stops the parser; uvicorn then calls send_400_response
        super().on_headers_complete()

    # ---------------------------------------------------------------- helpers
    def head_size(self) -> int:
        """Request line and headers as sent, give or take the separators."""
        return len(self.url) + 16 + sum(len(k) + len(v) + 4 for k, v in self.headers)

    def headers_too_large(self) -> HeadersTooLarge:
        return HeadersTooLarge(
            f"The request line and headers exceed {self.limits.max_header_bytes} bytes; send "
            "smaller headers, or raise the limit (--max-header-bytes / "
            "MLCADENCE_SERVING_MAX_HEADER_BYTES)."
        )

    def head_timed_out(self) -> None:
        self.head_deadline = None
        if self.transport.is_closing():
            return
        if not self.reading_head:  # nothing received: just hang up
            self.transport.close()
            return
        self.refuse(
            HeaderTimeout(
                f"The request headers did not arrive within {self.limits.header_timeout} s; "
                "send the whole request head at once, or raise the limit (--header-timeout / "
                "MLCADENCE_SERVING_HEADER_TIMEOUT)."
            )
        )

    def refuse(self, exc: ServingError) -> None:
        self.head_deadline = None
        self.logger.warning("refused a connection: %s", exc.message)
        self.transport.write(error_reply(exc))
        self.transport.close()
