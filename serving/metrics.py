"""Prometheus metrics of one server, in a registry of its own (so several apps
in one process, e.g. in tests, never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from mlcadence.tracking.conventions import (
    SERVING_BATCH_SIZE_METRIC,
    SERVING_LATENCY_METRIC,
    SERVING_REQUESTS_METRIC,
)

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# Paths we label by name; anything else is "other" so labels stay bounded.
KNOWN_PATHS = frozenset({"/invocations", "/ping", "/health", "/version", "/metrics"})


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._request_counters: dict[tuple[str, int], Counter] = {}
        r = self.registry
        self.requests = Counter(
            SERVING_REQUESTS_METRIC,
            "HTTP requests by path and status code.",
            ["path", "status"],
            registry=r,
        )
        self.latency = Histogram(
            SERVING_LATENCY_METRIC,
            "Time to answer /invocations.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            SERVING_BATCH_SIZE_METRIC,
            "Requests coalesced into one predict call.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.model_version = Gauge(
            "mlcadence_model_version",
            "Registry version of the loaded model (0 = none or unversioned).",
            registry=r,
        )
        self.model_info = Gauge(
            "mlcadence_model_info",
            "The loaded model (value 1), labelled by name, version and URI.",
            ["name", "version", "uri"],
            registry=r,
        )
        self.reloads = Counter(
            "mlcadence_model_reloads", "Hot reload attempts by result.", ["result"], registry=r
        )
        self.reload_failing = Gauge(
            "mlcadence_model_reload_failing",
            "1 while the latest reload attempt failed.",
            registry=r,
        )

    def record(self, path: str, status: int) -> None:
        key = (path if path in KNOWN_PATHS else "other", status)
        counter = self._request_counters.get(key)
        if counter is None:
            # Label lookup (str(), tuple hashing, a lock) costs more than the
            # increment; the (path, status) pairs are few, so keep each child.
            counter = self._request_counters[key] = self.requests.labels(key[0], str(status))
        counter.inc()

    def set_model(self, name: str | None, version: str | None, uri: str) -> None:
        self.model_info.clear()
        self.model_info.labels(name or "", version or "", uri).set(1)
        try:
            self.model_version.set(float(version) if version else 0)
        except ValueError:
            self.model_version.set(0)

    def note_reload(self, ok: bool) -> None:
        self.reloads.labels("success" if ok else "failure").inc()
        self.reload_failing.set(0 if ok else 1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestMetricsMiddleware:
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
