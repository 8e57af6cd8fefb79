"""Client-side benchmark of the http(s):// backend: our `tracking.Client`
against MLflow's `MlflowClient`, side by side in one run, both talking to the
same `mlcadence server` (sqlite store) over HTTP.

    python benchmarks/rest_client.py            # full size
    python benchmarks/rest_client.py --quick    # scaled down, a smoke check

Workloads: log_metric one call at a time, log_batch of 10,000 metrics in
chunks of 1,000, creating small runs (create, one param, one metric, end),
and reading a run back with get_run. Alternating order, median of the
repeats; prints seconds and MLflow's time / ours (above 1: we are faster).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
T0 = 1_700_000_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    mlcadence = str(Path(sys.executable).with_name("mlcadence"))
    command = [mlcadence, "server", "--backend-store-uri", f"sqlite:///{folder / 'b.db'}",
               "--artifacts-destination", str(folder / "art"), "--port", str(port)]  # fmt: skip
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {(folder / 'server.log').read_text()}")


class Ours:
    label = "mlcadence"

    def __init__(self, url: str):
        from mlcadence.tracking import Client
        from mlcadence.tracking.entities import Metric

        self.client, self.Metric = Client(url), Metric
        self.exp = self.client.create_experiment(f"ours-{time.time_ns()}")

    def new_run(self) -> str:
        return self.client.create_run(self.exp).info.run_id

    def log_metric(self, run_id, i):
        self.client.log_metric(run_id, "m", float(i), timestamp=T0 + i, step=i)

    def log_batch(self, run_id, start, count):
        metrics = [self.Metric("b", float(i), T0 + i, i) for i in range(start, start + count)]
        self.client.log_batch(run_id, metrics=metrics)

    def small_run(self):
        run_id = self.new_run()
        self.client.log_param(run_id, "p", "x")
        self.client.log_metric(run_id, "m", 0.5)
        self.client.set_terminated(run_id)

    def get_run(self, run_id):
        return self.client.get_run(run_id)


class Theirs(Ours):
    label = "mlflow"

    def __init__(self, url: str):
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        self.client, self.Metric = MlflowClient(url), Metric
        self.exp = self.client.create_experiment(f"theirs-{time.time_ns()}")

    def new_run(self) -> str:
        return self.client.create_run(self.exp).info.run_id

    def log_batch(self, run_id, start, count):
        metrics = [self.Metric("b", float(i), T0 + i, i) for i in range(start, start + count)]
        self.client.log_batch(run_id, metrics=metrics, synchronous=True)

    def small_run(self):
        run_id = self.new_run()
        self.client.log_param(run_id, "p", "x")
        self.client.log_metric(run_id, "m", 0.5, synchronous=True)
        self.client.set_terminated(run_id)


def workloads(sizes):
    calls, batch, runs, reads = sizes

    def log_metric(c):
        run_id = c.new_run()
        for i in range(calls):
            c.log_metric(run_id, i)

    def log_batch(c):
        run_id = c.new_run()
        for start in range(0, batch, 1000):
            c.log_batch(run_id, start, 1000)

    def small_runs(c):
        for _ in range(runs):
            c.small_run()

    def get_run(c):
        run_id = c.new_run()
        for _ in range(reads):
            c.get_run(run_id)

    return {
        f"log_metric x{calls}": log_metric,
        f"log_batch {batch}": log_batch,
        f"{runs} small runs": small_runs,
        f"get_run x{reads}": get_run,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = (100, 2000, 20, 100) if args.quick else (1000, 10_000, 200, 500)
    folder = Path(tempfile.mkdtemp(prefix="mlc-bench-rest-"))
    proc, url = start_server(folder)
    try:
        clients = [Ours(url), Theirs(url)]
        print(f"{'workload':<20} {'mlcadence s':>12} {'mlflow s':>10} {'mlflow/ours':>12}")
        for name, work in workloads(sizes).items():
            times: dict[str, list[float]] = {c.label: [] for c in clients}
            for repeat in range(args.repeats):
                for c in clients if repeat % 2 == 0 else clients[::-1]:
                    start = time.perf_counter()
                    work(c)
                    times[c.label].append(time.perf_counter() - start)
            ours, theirs = (statistics.median(times[k]) for k in ("mlcadence", "mlflow"))
            print(f"{name:<20} {ours:>12.3f} {theirs:>10.3f} {theirs / ours:>11.2f}x")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
