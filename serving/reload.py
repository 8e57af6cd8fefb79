"""The model being served, and hot reload when it is served through an alias.

`ModelHolder.current` is swapped by one attribute assignment, which is
atomic: a request (or a batch) reads it once and keeps that model for its
whole prediction, so no request ever sees half a swap, and the old model is
freed when the last batch using it ends. The reloader polls the registry in a
thread of its own; a new version is loaded and warmed up off to the side and
only then swapped in. A failed load keeps the old model and is reported in the
log, /health and /metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mlcadence.serving.model import LoadedModel

log = logging.getLogger("mlcadence.serving")


@dataclass
class ReloadFailure:
    at: float
    message: str
    version: str | None

    def describe(self) -> dict:
        return {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at)),
            "message": self.message,
            "version": self.version,
        }


class ModelHolder:
    def __init__(self, uri: str, current: LoadedModel | None = None):
        self.uri = uri
        self.current = current
        self.last_failure: ReloadFailure | None = None
        self.on_swap: list[Callable[[LoadedModel], None]] = []

    def unavailable_message(self) -> str:
        """What a client is told while no model is loaded."""
        reason = f" Last error: {self.last_failure.message}" if self.last_failure else ""
        return (
            f"No model is loaded yet for {self.uri!r}; retry shortly (the server polls the "
            f"registry).{reason}"
        )

    def swap(self, model: LoadedModel) -> None:
        self.current = model
        self.last_failure = None
        for hook in self.on_swap:
            hook(model)


class Reloader:
    """Polls `resolve_version(uri)` every `interval` seconds; loads on change."""

    def __init__(
        self,
        holder: ModelHolder,
        *,
        interval: float,
        resolve_version: Callable[[str], str | None],
        load: Callable[[str], LoadedModel],
        warm_up: Callable[[LoadedModel], None],
        on_result: Callable[[bool], None] = lambda ok: None,
    ):
        self.holder = holder
        self.interval = interval
        self._resolve_version = resolve_version
        self._load = load
        self._warm_up = warm_up
        self._on_result = on_result
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_logged: str | None = None

    def start(self) -> None:
        if self._thread is None and self.interval > 0:
            self._thread = threading.Thread(target=self._loop, name="model-reloader", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.check_once()

    def check_once(self) -> bool:
        """One poll; True when a new model was swapped in."""
        current = self.holder.current
        try:
            version = self._resolve_version(self.holder.uri)
        except Exception as exc:  # noqa: BLE001 - the registry may be briefly unreadable
            self._fail(f"Could not resolve {self.holder.uri!r}: {exc}", None)
            return False
        if current is not None and version == current.version:
            if self.holder.last_failure is not None and self.holder.last_failure.version is None:
                self.holder.last_failure = None  # the registry is readable again
            return False
        failure = self.holder.last_failure
        if failure is not None and failure.version == version and time.time() - failure.at < 60:
            return False  # the same broken version: retry at most once a minute
        try:
            model = self._load(self.holder.uri)
            self._warm_up(model)
        except Exception as exc:  # noqa: BLE001 - keep serving the old model
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            self._fail(message, version)
            return False
        old = current.version if current else None
        self.holder.swap(model)
        self._on_result(True)
        self._last_logged = None
        log.info(
            "hot reload: %s now serves version %s (was %s)", self.holder.uri, model.version, old
        )
        return True

    def _fail(self, message: str, version: str | None) -> None:
        self.holder.last_failure = ReloadFailure(time.time(), message, version)
        self._on_result(False)
        if message != self._last_logged:  # log each distinct failure once
            log.error(
                "hot reload of %s failed, still serving the previous model: %s",
                self.holder.uri,
                message,
            )
            self._last_logged = message
