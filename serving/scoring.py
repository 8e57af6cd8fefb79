"""Scoring without HTTP: parse -> convert -> predict -> encode.

`ScoringService` is what POST /invocations calls (concurrent requests share
predict calls through the micro-batcher); `score_bytes` is the same path for
one body, synchronously (batch scoring, `mlcadence predict`); `warm_up` sends
a model's example through it before the model takes traffic. A request that
does not fit the protocol or the signature is a client fault (`ServingError`
with a 4xx status); a model that raises on input that passed all of that is a
server fault (`ModelFailed`, 500), logged with its traceback.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlcadence.serving import protocol
from mlcadence.serving.batching import MicroBatcher
from mlcadence.serving.convert import ModelInput, to_model_input
from mlcadence.serving.errors import ModelFailed, NoModelLoaded, ServingError
from mlcadence.serving.model import LoadedModel
from mlcadence.serving.protocol import BodyLimits, Payload
from mlcadence.serving.reload import ModelHolder

log = logging.getLogger("mlcadence.serving")

# Media type -> largest body parsed on the event loop itself. JSON or CSV that
# small parses faster than the hop to a worker thread; anything bigger, and
# Parquet always (a few KiB can decompress to gigabytes), is parsed in a
# thread so one request never stalls every other connection.
INLINE_PARSE_BYTES: dict[str, int] = {
    "application/json": 16 * 1024,
    "text/csv": 16 * 1024,
    "text/csv;header=present": 16 * 1024,
    "text/csv;header=absent": 16 * 1024,
}


@dataclass(frozen=True)
class Scored:
    """An answer: the predictions JSON, and whether the request used the
    deprecated shape (the HTTP layer then adds a deprecation warning)."""

    body: bytes
    deprecated: bool


def prepare(
    model: LoadedModel, body: bytes, media_type: str, limits: BodyLimits | None = None
) -> tuple[Payload, ModelInput]:
    """Parse a body (within `limits`, if any) and convert it to `model`'s input
    (checked against its signature)."""
    payload = protocol.parse_body(body, media_type, limits)
    return payload, to_model_input(payload, model.schema, want_frame=model.wants_frame)


class _GcPause:
    """Automatic garbage collection held off while a big body is parsed in a
    thread. Parsing makes a list per row; each batch of new lists triggers a
    collection, and the full ones walk the whole heap holding the GIL, which
    stalls the event loop for a tenth of a second or more. Reference counting
    still frees everything; collection resumes when the last parse ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parses = 0
        self._was_enabled = False

    @contextmanager
    def during_parse(self) -> Iterator[None]:
        with self._lock:
            if self._parses == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._parses += 1
        try:
            yield
        finally:
            with self._lock:
                self._parses -= 1
                if self._parses == 0 and self._was_enabled:
                    gc.enable()


_gc_pause = _GcPause()


def prepare_in_thread(
    model: LoadedModel, body: bytes, media_type: str, limits: BodyLimits | None
) -> tuple[ModelInput, bool]:
    """`prepare` for a worker thread: the model input and whether the shape is
    deprecated. The parsed rows are freed here, not on the event loop."""
    with _gc_pause.during_parse():
        try:
            payload, model_input = prepare(model, body, media_type, limits)
        except ServingError as exc:
            # The traceback would keep the parsed rows alive until the event
            # loop drops it; freeing millions of them there stalls it.
            raise exc.with_traceback(None) from None
        return model_input, payload.deprecated


def model_failed(model: LoadedModel, exc: Exception) -> ModelFailed:
    """The input passed every check, so a raising model is the server's fault."""
    log.error("model %s raised while predicting", model.uri, exc_info=exc)
    return ModelFailed(
        f"The model raised while predicting: {type(exc).__name__}: {exc}. The input matched "
        "the model's signature; the server log has the traceback."
    )


def score_bytes(model: LoadedModel, body: bytes, media_type: str) -> bytes:
    """The JSON a POST /invocations of `body` would answer with, unbatched."""
    payload, model_input = prepare(model, body, media_type)
    try:
        predictions = model.predict(model_input.data, model_input.params)
    except Exception as exc:  # noqa: BLE001 - the model's own failure
        raise model_failed(model, exc) from exc
    return protocol.predictions_json(predictions)


def example_request(model: LoadedModel) -> dict | None:
    """The model's saved serving example, or a row of zeros when its signature
    is all numbers; None when neither exists."""
    if model.serving_example is not None:
        return model.serving_example
    schema = model.schema
    if schema is None or not schema.all_numeric:
        return None
    split: dict[str, Any] = {"data": [[0] * len(schema.columns)]}
    if schema.has_names:
        split["columns"] = list(schema.names)
    return {"dataframe_split": split}


def warm_up(model: LoadedModel) -> None:
    """One prediction through the real request path before a model takes traffic."""
    example = example_request(model)
    if example is None:
        return
    payload = protocol.payload_from_json(example)
    model_input = to_model_input(payload, model.schema, want_frame=model.wants_frame)
    model.predict(model_input.data, payload.params)


class ScoringService:
    """Scores request bodies, each within `limits` (None = unlimited), with
    whatever model `holder` holds right now."""

    def __init__(
        self, holder: ModelHolder, batcher: MicroBatcher, limits: BodyLimits | None = None
    ):
        self.holder = holder
        self.batcher = batcher
        self.limits = limits

    def current_model(self) -> LoadedModel:
        model = self.holder.current
        if model is None:
            raise NoModelLoaded(self.holder.unavailable_message())
        return model

    async def score(self, body: bytes, media_type: str) -> Scored:
        model = self.current_model()  # read once: a hot swap never splits a request
        if len(body) <= INLINE_PARSE_BYTES.get(media_type, -1):
            payload, model_input = prepare(model, body, media_type, self.limits)
            deprecated = payload.deprecated
        else:
            model_input, deprecated = await asyncio.to_thread(
                prepare_in_thread, model, body, media_type, self.limits
            )
        try:
            predictions = await self.batcher.submit(model, model_input)
        except ServingError:
            raise
        except Exception as exc:  # noqa: BLE001 - the model's own failure
            raise model_failed(model, exc) from exc
        return Scored(protocol.predictions_json(predictions), deprecated)
