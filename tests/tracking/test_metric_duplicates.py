"""An exact duplicate metric record (same run, key, step, timestamp, value)
is stored once on every backend, so a retried log_batch is harmless."""

from __future__ import annotations

import math

from mlcadence.tracking import Client, Metric

T0 = 1_700_000_000_000


def test_retried_batches_and_racing_duplicates_are_stored_once(backend_uri, race):
    client = Client(backend_uri)
    run_id = client.create_run("0").run_id
    batch = [Metric("m", i / 3, T0 + i, i) for i in range(20)] + [Metric("n", math.nan, T0, 0)]
    client.log_batch(run_id, metrics=batch)
    client.log_batch(run_id, metrics=batch)  # the retry of a batch whose answer was lost
    client.log_metric(run_id, "m", 0.0, T0, 0)  # a duplicate of one record, alone
    _, errors = race(lambda i: client.log_batch(run_id, metrics=batch[:5]), 4)
    assert errors == []

    history = client.get_metric_history(run_id, "m")
    assert [(m.step, m.value) for m in history] == [(i, i / 3) for i in range(20)]
    assert len(client.get_metric_history(run_id, "n")) == 1

    # the same step with another value or time is a new record
    client.log_metric(run_id, "m", 5.0, T0, 0)
    client.log_metric(run_id, "m", 0.0, T0 + 1, 0)
    assert len(client.get_metric_history(run_id, "m")) == 22
