"""Adaptive micro-batching: concurrent requests share one `predict` call.

Requests arrive already parsed and validated (a bad request fails before it
gets here, alone). The single batch loop takes the oldest waiting input plus
every waiting input that can be concatenated with it (same `batch_key`), up to
`max_size`, runs one predict in a worker thread, and splits the rows back to
each request in order. While that predict runs, the event loop keeps reading
new requests, so the next batch fills up by itself under load; at low load a
batch of one goes straight through. The optional `max_wait` is spent only when
more requests are known to be on their way (in flight but not yet queued), so
a lone client never pays it. If a batched predict raises, each input is
predicted on its own, so one poisonous row fails only its own request.

Where a batch is predicted is decided per batch against a latency budget: a
model whose recent small batches took at most `INLINE_BUDGET_S` is called
right on the event loop (the hop to a thread and back, with its GIL hand-offs,
cost more than such a predict); a slower model, or a batch of many rows, goes
to the predict thread, so the loop keeps answering /ping meanwhile.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlcadence.serving.convert import ModelInput

# A batch is predicted on the event loop when it has at most INLINE_ROWS rows
# and recent batches that small took at most INLINE_BUDGET_S each.
INLINE_BUDGET_S = 0.001
INLINE_ROWS = 256


@dataclass
class _Item:
    model_input: ModelInput
    future: asyncio.Future
    model: Any = field(default=None)


def concat(inputs: list[Any]) -> Any:
    first = inputs[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(inputs, axis=0)
    import pandas as pd

    return pd.concat(inputs, ignore_index=True)


def split(output: Any, sizes: list[int]) -> list[Any] | None:
    """Rows of one batched output back per request; None if the output is not
    one row per input row (then the batch is re-run per request)."""
    total = sum(sizes)
    try:
        if len(output) != total:
            return None
    except TypeError:
        return None
    parts, start = [], 0
    if hasattr(output, "iloc"):
        for n in sizes:
            parts.append(output.iloc[start : start + n].reset_index(drop=True))
            start += n
    else:
        for n in sizes:
            parts.append(output[start : start + n])
            start += n
    return parts


class MicroBatcher:
    """`predict(model, data, params)` runs in one dedicated thread; `model` is
    captured per batch, so a hot swap never mixes two models in one call."""

    def __init__(
        self,
        predict: Callable[[Any, Any, dict | None], Any],
        *,
        max_size: int,
        max_wait_s: float,
        on_batch: Callable[[int], None] | None = None,
    ):
        self._predict = predict
        self.max_size = max(1, int(max_size))
        self.max_wait_s = max(0.0, float(max_wait_s))
        self._on_batch = on_batch or (lambda n: None)
        self._queue: collections.deque[_Item] = collections.deque()
        self._ready: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        # Requests being handled right now (read, parsed, queued or predicted):
        # the loop waits for batch-mates only while some are not queued yet.
        self.in_flight = 0
        # Moving average of the seconds a batch of <= INLINE_ROWS rows took;
        # None until one was measured (the first goes to the thread).
        self.small_batch_cost: float | None = None

    @contextmanager
    def request(self) -> Iterator[None]:
        """Marks one request in flight for as long as the block runs, from
        before its body is read until its answer is ready."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def submit(self, model: Any, model_input: ModelInput) -> Any:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            # First use, or a new event loop (tests, a restarted server): the
            # batch loop lives on the loop that serves the requests.
            self._queue.clear()
            self._loop = loop
            self._ready = asyncio.Event()
            self._task = loop.create_task(self._run())
        item = _Item(model_input, loop.create_future(), model)
        self._queue.append(item)
        self._ready.set()
        return await item.future

    async def _gather_stragglers(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait (at most max_wait) while requests are in flight but not queued yet."""
        await asyncio.sleep(0)  # let finished handlers leave the in-flight count
        deadline = loop.time() + self.max_wait_s
        while self.in_flight > len(self._queue) and len(self._queue) < self.max_size:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), remaining)
            except TimeoutError:
                return

    def _take(self) -> list[_Item]:
        first = self._queue.popleft()
        batch = [first]
        key = first.model_input.batch_key
        if key is None or self.max_size == 1:
            return batch
        keep: list[_Item] = []
        while self._queue and len(batch) < self.max_size:
            item = self._queue.popleft()
            if item.model_input.batch_key == key and item.model is first.model:
                batch.append(item)
            else:
                keep.append(item)
        self._queue.extendleft(reversed(keep))
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._ready is not None
        while True:
            if not self._queue:
                self._ready.clear()
                await self._ready.wait()
            if self.max_wait_s and len(self._queue) < self.max_size:
                await self._gather_stragglers(loop)
            batch = self._take()
            batch = [item for item in batch if not item.future.done()]  # timed out meanwhile
            if not batch:
                continue
            self._on_batch(len(batch))
            inline = self._fits_budget(batch)
            if inline:
                outcomes = self._predict_batch(batch)
            else:
                outcomes = await loop.run_in_executor(self._executor, self._predict_batch, batch)
            for item, (ok, value) in zip(batch, outcomes, strict=True):
                if item.future.done():
                    continue
                if ok:
                    item.future.set_result(value)
                else:
                    item.future.set_exception(value)
            if inline:
                # Let the answers go out and new requests in before the next batch.
                await asyncio.sleep(0)

    def _fits_budget(self, batch: list[_Item]) -> bool:
        cost = self.small_batch_cost
        if cost is None or cost > INLINE_BUDGET_S:
            return False
        return sum(item.model_input.n_rows for item in batch) <= INLINE_ROWS

    def _predict_batch(self, batch: list[_Item]) -> list[tuple[bool, Any]]:
        """Returns (ok, output-or-exception) per item, and keeps the cost of
        small batches up to date."""
        started = time.perf_counter()
        outcomes = self._predict_items(batch)
        if sum(item.model_input.n_rows for item in batch) <= INLINE_ROWS:
            took = time.perf_counter() - started
            cost = self.small_batch_cost
            self.small_batch_cost = took if cost is None else 0.8 * cost + 0.2 * took
        return outcomes

    def _predict_items(self, batch: list[_Item]) -> list[tuple[bool, Any]]:
        model = batch[0].model
        if len(batch) > 1:
            try:
                data = concat([item.model_input.data for item in batch])
                parts = split(
                    self._predict(model, data, None), [i.model_input.n_rows for i in batch]
                )
            except Exception:  # noqa: BLE001 - fall back to one call per request
                parts = None
            if parts is not None:
                return [(True, p) for p in parts]
        outcomes = []
        for item in batch:
            try:
                mi = item.model_input
                outcomes.append((True, self._predict(item.model, mi.data, mi.params)))
            except Exception as exc:  # noqa: BLE001 - reported to that request only
                outcomes.append((False, exc))
        return outcomes

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
