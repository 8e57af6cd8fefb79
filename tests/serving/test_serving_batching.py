"""Micro-batching: coalesced predictions equal unbatched ones, in order, and a
bad request fails alone."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pandas as pd

from mlcadence.serving.app import create_app
from mlcadence.serving.batching import MicroBatcher
from mlcadence.serving.convert import ModelInput
from mlcadence.serving.model import from_estimator
from mlcadence.settings import ServingSettings
from tests.serving.flagship import FEATURES

SIGNATURE = {
    "signature": {
        "inputs": json.dumps([{"type": "long", "name": n, "required": True} for n in FEATURES])
    }
}


class CountingModel:
    """Answers row sums; raises when a row holds 42; counts predict calls."""

    def __init__(self):
        self.calls: list[int] = []

    def predict(self, data):
        self.calls.append(len(data))
        if (data == 42).any():
            raise ValueError("42 is poison")
        return data.sum(axis=1)


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def test_concurrent_requests_share_predict_calls_and_keep_their_order():
    model = CountingModel()
    batcher = MicroBatcher(lambda m, data, params: m.predict(data), max_size=64, max_wait_s=0)
    inputs = [np.full((1 + i % 3, 2), float(i)) for i in range(40)]

    async def main():
        return await asyncio.gather(
            *[batcher.submit(model, ModelInput(x, len(x), ("ndarray", 2))) for x in inputs]
        )

    results = run(main())
    for x, got in zip(inputs, results, strict=True):
        np.testing.assert_array_equal(got, x.sum(axis=1))
    assert len(model.calls) < len(inputs)  # coalesced
    assert sum(model.calls) == sum(len(x) for x in inputs)


def test_a_poisoned_request_fails_alone():
    model = CountingModel()
    batcher = MicroBatcher(lambda m, data, params: m.predict(data), max_size=64, max_wait_s=0)
    inputs = [np.full((1, 2), 42.0 if i == 5 else float(i)) for i in range(12)]

    async def main():
        return await asyncio.gather(
            *[batcher.submit(model, ModelInput(x, 1, ("ndarray", 2))) for x in inputs],
            return_exceptions=True,
        )

    results = run(main())
    assert isinstance(results[5], ValueError)
    for i, got in enumerate(results):
        if i != 5:
            np.testing.assert_array_equal(got, [2.0 * i])


def test_batch_size_one_disables_coalescing():
    model = CountingModel()
    batcher = MicroBatcher(lambda m, data, params: m.predict(data), max_size=1, max_wait_s=0)

    async def main():
        return await asyncio.gather(
            *[
                batcher.submit(model, ModelInput(np.ones((1, 2)), 1, ("ndarray", 2)))
                for _ in range(8)
            ]
        )

    run(main())
    assert model.calls == [1] * 8


def test_inputs_with_params_or_other_columns_are_not_mixed():
    model = CountingModel()
    batcher = MicroBatcher(lambda m, data, params: m.predict(data), max_size=64, max_wait_s=0)

    async def main():
        a = [
            batcher.submit(model, ModelInput(np.ones((1, 2)), 1, ("ndarray", 2))) for _ in range(4)
        ]
        b = [
            batcher.submit(model, ModelInput(np.ones((1, 3)), 1, ("ndarray", 3))) for _ in range(4)
        ]
        return await asyncio.gather(*a, *b)

    results = run(main())
    assert [r.tolist() for r in results] == [[2.0]] * 4 + [[3.0]] * 4


def test_http_answers_under_batching_equal_the_estimator(stock_estimator):
    """The real app (in-process ASGI): 60 concurrent requests of 1-5 rows."""
    app = create_app(
        ServingSettings(batch_max_size=16, batch_max_wait_ms=5),
        model=from_estimator(stock_estimator, metadata=SIGNATURE),
    )
    rng = np.random.default_rng(7)
    bodies = [rng.integers(0, 2, size=(1 + i % 5, 14)).tolist() for i in range(60)]

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(
                *[
                    client.post(
                        "/invocations",
                        json={"dataframe_split": {"columns": FEATURES, "data": rows}},
                    )
                    for rows in bodies
                ]
            )
            metrics = (await client.get("/metrics")).text
        return responses, metrics

    responses, metrics = run(main())
    for rows, r in zip(bodies, responses, strict=True):
        assert r.status_code == 200, r.text
        want = stock_estimator.predict(pd.DataFrame(rows, columns=FEATURES)).tolist()
        assert r.json()["predictions"] == want
    count = float(
        next(
            line.split()[-1]
            for line in metrics.splitlines()
            if line.startswith("mlcadence_batch_size_count")
        )
    )
    assert count < len(bodies)  # some requests shared a predict call
