"""One HTTP session to a tracking server: keep-alive pooling, bearer-token
auth, retries with exponential backoff, and MLflow's error JSON turned into
our `TrackingError` family.

Retries cover connection errors, 429 and 5xx, within a bounded total time.
A request the server may already have applied (the connection broke after
it was sent) is retried only when repeating it is harmless: every write of
MLflow's API is, except the three that create something new (experiment,
run, model version), which are retried only when the server surely did not
act (the connection was refused, or it answered 429/503).

The token lives in the session's headers and nowhere else: it is never part
of a message, a repr or a log line.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from mlcadence.errors import HTTP_STATUS
from mlcadence.tracking.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidState,
    NotFound,
    TrackingError,
)

_log = logging.getLogger(__name__)

API_PREFIX = "/api/2.0"
TRACKING_URI_ENV = "MLCADENCE_TRACKING_URI"

# MLflow error codes with a class of their own; others keep their code on a TrackingError.
ERROR_CLASSES: dict[str, type[TrackingError]] = {
    "RESOURCE_DOES_NOT_EXIST": NotFound,
    "RESOURCE_ALREADY_EXISTS": AlreadyExists,
    "INVALID_PARAMETER_VALUE": InvalidInput,
    "BAD_REQUEST": InvalidInput,
    "INVALID_STATE": InvalidState,
}

# HTTP statuses worth another try: the server is busy, restarting or behind a proxy.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# ... and the ones that prove the request was not applied.
NOT_APPLIED_STATUSES = frozenset({429, 503})

# What a 401/403 means for the person reading the error.
AUTH_HINTS = {
    401: "Set MLCADENCE_TRACKING_TOKEN (or MLFLOW_TRACKING_TOKEN) to a token the server accepts.",
    403: "The token is valid but lacks the permission for this request (e.g. a read-only "
    "token that writes); use a token with write scope.",
}


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, for at most `total_seconds`."""

    total_seconds: float = 60.0
    first_delay: float = 0.1
    max_delay: float = 5.0

    def delays(self) -> Iterator[float]:
        """Sleeps before each retry; ends when the next one would pass the deadline."""
        deadline = time.monotonic() + self.total_seconds
        ceiling = self.first_delay
        while True:
            delay = random.uniform(ceiling / 2, ceiling)
            if time.monotonic() + delay > deadline:
                return
            yield delay
            ceiling = min(ceiling * 2, self.max_delay)


def origin(url: str) -> str:
    """scheme://host:port of `url`, without user info, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, "", "", ""))


def redacted(url: str) -> str:
    """`url` without user info or query, safe to print."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, origin(url).split("//", 1)[1], parts.path, "", ""))


def json_float(value: float) -> float | str:
    """Protobuf's JSON spelling of a double: NaN and infinities are strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class HttpSession:
    """Requests to one tracking server (`base_url`, e.g. http://host:5000 or
    https://host/prefix). Safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 120.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.origin = origin(base_url)
        self.retry = retry
        headers = {"User-Agent": "mlcadence"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            follow_redirects=False,
            trust_env=False,
        )
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return f"HttpSession({redacted(self.base_url)!r})"

    def close(self) -> None:
        self._closed.set()
        self._http.close()

    @property
    def client(self) -> httpx.Client:
        """The pooled client, for requests made through `send` and `stream`."""
        return self._http

    # -- MLflow's JSON API -----------------------------------------------------
    def call(
        self,
        method: str,
        endpoint: str,
        body: dict | None = None,
        *,
        creates: bool = False,
    ) -> dict:
        """`method` on `/api/2.0/mlflow/<endpoint>`: GET sends `body` as the query
        string, other methods as JSON. Returns the response's JSON object.
        `creates` marks a request that must not be repeated once applied."""
        url = f"{self.base_url}{API_PREFIX}/mlflow/{endpoint}"
        # An absent field is left out, as protobuf's JSON leaves out unset fields.
        body = {k: v for k, v in (body or {}).items() if v is not None}
        if method == "GET":
            params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in body.items()}
            response = self.send(lambda: self._http.request(method, url, params=params), creates)
        else:
            data = json.dumps(body, allow_nan=False).encode()
            response = self.send(
                lambda: self._http.request(
                    method, url, content=data, headers={"Content-Type": "application/json"}
                ),
                creates,
            )
        try:
            return response.json() if response.content else {}
        except ValueError:
            raise TrackingError(
                f"The tracking server at {redacted(self.base_url)} answered {method} {endpoint} "
                f"with something that is not JSON (HTTP {response.status_code}). Check that "
                f"{TRACKING_URI_ENV} points at an MLflow-compatible tracking server."
            ) from None

    # -- any request, with retries --------------------------------------------
    def send(self, request: Callable[[], httpx.Response], creates: bool = False) -> httpx.Response:
        """Run `request` (called anew for every attempt) until it succeeds, fails
        for good, or the retry budget is spent; raise our error for a failure."""
        return self._attempts(request, creates, stream=False)

    @contextmanager
    def stream(self, method: str, url: str, **kwargs) -> Iterator[httpx.Response]:
        """A streamed response to `method url` (retried until the headers
        arrive); the body is read by the caller."""
        response = self._attempts(
            lambda: self._http.send(self._http.build_request(method, url, **kwargs), stream=True),
            creates=False,
            stream=True,
        )
        try:
            yield response
        finally:
            response.close()

    def _attempts(self, request, creates: bool, stream: bool) -> httpx.Response:
        delays = self.retry.delays()
        while True:
            try:
                response = request()
            except httpx.TransportError as exc:
                applied_maybe = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (creates and applied_maybe) or not self._sleep(delays, repr(exc)):
                    raise self._unreachable(exc) from None
                continue
            status = response.status_code
            if status < 400:
                return response
            if stream:
                response.read()  # error bodies are small; error_from needs it
                response.close()
            retry = status in RETRY_STATUSES and (not creates or status in NOT_APPLIED_STATUSES)
            if retry and self._sleep(delays, f"HTTP {status}", _retry_after(response)):
                continue
            raise self.error_from(response)

    def _sleep(self, delays: Iterator[float], why: str, at_least: float = 0.0) -> bool:
        if self._closed.is_set():
            return False
        delay = next(delays, None)
        if delay is None:
            return False
        delay = max(delay, min(at_least, self.retry.max_delay))
        _log.info("Tracking server %s: %s; retrying in %.2fs", self.origin, why, delay)
        time.sleep(delay)
        return True

    def _unreachable(self, exc: Exception) -> TrackingError:
        return TrackingError(
            f"Cannot reach the tracking server at {redacted(self.base_url)} "
            f"({type(exc).__name__}: {exc}). Start the server, or point {TRACKING_URI_ENV} at a "
            f"running one. Requests are retried for up to {self.retry.total_seconds:g}s "
            "(MLCADENCE_TRACKING_RETRY_SECONDS), except a create whose connection broke after "
            "it was sent, which the server may already have applied.",
            "TEMPORARILY_UNAVAILABLE",
        )

    def error_from(self, response: httpx.Response) -> TrackingError:
        """MLflow's error JSON (`error_code`, `message`) as our error class."""
        status = response.status_code
        code, message = _error_fields(response)
        if code is None:
            code = next((c for c, s in HTTP_STATUS.items() if s == status), "INTERNAL_ERROR")
        if status in AUTH_HINTS:
            message = f"{message} {AUTH_HINTS[status]}"
        cls = ERROR_CLASSES.get(code, TrackingError)
        return cls(f"{message} (tracking server {self.origin}, HTTP {status})", code)


def _error_fields(response: httpx.Response) -> tuple[str | None, str]:
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and "message" in doc:
        return doc.get("error_code"), str(doc["message"])
    text = response.text.strip()[:500] or response.reason_phrase
    return None, f"The tracking server answered {response.status_code}: {text}"


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", 0))
    except ValueError:
        return 0.0
