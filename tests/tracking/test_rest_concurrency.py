"""Many client processes logging over HTTP into one experiment of our
server, and the server SIGKILLed and restarted on the same port while they
log: the clients' retries lose and duplicate nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mlcadence.tracking import Client

pytestmark = pytest.mark.integration

CLIENTS = 8
METRICS = 1000

# One client process: a run of its own in the shared experiment, then METRICS
# values of "m" at steps 0..n-1, one request each (batch 1) or in batches.
LOGGER = """
import sys
from mlcadence.tracking import Client
from mlcadence.tracking.entities import Metric

url, experiment_id, count, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
client = Client(url)
run_id = client.create_run(experiment_id).info.run_id
print(run_id, flush=True)
T0 = 1_700_000_000_000
if batch == 1:
    for i in range(count):
        client.log_metric(run_id, "m", i / 2, timestamp=T0 + i, step=i)
else:
    for start in range(0, count, batch):
        steps = range(start, min(count, start + batch))
        client.log_batch(run_id, metrics=[Metric("m", i / 2, T0 + i, i) for i in steps])
client.set_terminated(run_id)
"""


def _start_clients(url: str, experiment_id: str, batch: int) -> list[subprocess.Popen]:
    env = {**os.environ, "MLCADENCE_TRACKING_RETRY_SECONDS": "120"}
    return [
        subprocess.Popen(
            [sys.executable, "-c", LOGGER, url, experiment_id, str(METRICS), str(batch)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(CLIENTS)
    ]


def _wait_all(clients: list[subprocess.Popen]) -> None:
    for proc in clients:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]


def _assert_complete(client: Client, experiment_id: str) -> None:
    runs = client.search_runs([experiment_id])
    assert len(runs) == CLIENTS
    for run in runs:
        history = client.get_metric_history(run.info.run_id, "m")
        assert sorted((m.step, m.value) for m in history) == [(i, i / 2) for i in range(METRICS)]
        assert run.info.status.name == "FINISHED"


def test_eight_processes_log_a_thousand_metrics_each_nothing_lost(tracking_server, tmp_path):
    server = tracking_server(f"sqlite:///{tmp_path / 'many.db'}")
    client = Client(server.url)
    experiment_id = client.create_experiment("crowd")
    _wait_all(_start_clients(server.url, experiment_id, batch=1))
    _assert_complete(client, experiment_id)


def _logged_so_far(client: Client, experiment_id: str) -> int:
    runs = client.search_runs([experiment_id])
    return sum(len(client.get_metric_history(r.info.run_id, "m")) for r in runs)


def test_server_killed_and_restarted_mid_logging_loses_and_duplicates_nothing(
    tracking_server, tmp_path
):
    server = tracking_server(f"sqlite:///{tmp_path / 'restart.db'}")
    client = Client(server.url)
    experiment_id = client.create_experiment("restart")
    clients = _start_clients(server.url, experiment_id, batch=10)
    try:
        deadline = time.monotonic() + 300
        while _logged_so_far(client, experiment_id) < CLIENTS * METRICS // 4:
            assert time.monotonic() < deadline, "the clients made no progress"
            time.sleep(0.2)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
        still_logging = [p for p in clients if p.poll() is None]
        time.sleep(1.0)  # the clients are retrying against a closed port
        server.start()  # same port, same store
        _wait_all(clients)
    finally:
        for proc in clients:
            if proc.poll() is None:
                proc.kill()
    assert still_logging, "every client had finished before the kill; the test proved nothing"
    _assert_complete(Client(server.url), experiment_id)
