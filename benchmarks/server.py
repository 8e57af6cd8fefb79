"""Tracking-server benchmark: `mlcadence server` against `mlflow server`,
side by side in one run, each on its own sqlite file with artifacts served,
driven by the same client (`mlflow.MlflowClient` over HTTP).

    python benchmarks/server.py             # full size (several minutes)
    python benchmarks/server.py --quick     # scaled down, for a smoke check

Workloads: log_metric one call at a time, log_batch of 10,000 metrics (in
MLflow's chunks of 1,000), creating small runs (create, one param and one
metric, end), and search over 10,000 runs (seeded straight into each store
before timing: ours through `tracking.Client`, MLflow's through its
SqlAlchemyStore). Prints the median of the repeats and ours / MLflow's speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from live_server import LiveServer

os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
# No telemetry threads in the client or either server: they only add noise.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
T0 = 1_700_000_000_000
FILTER = "metrics.m > 0.5 and params.p = 'x'"
ORDER_BY = ["metrics.m DESC"]


@dataclass
class Sizes:
    log_metric_calls: int = 500
    batch_metrics: int = 10_000
    small_runs: int = 300
    search_runs: int = 10_000
    repeats: int = 3


QUICK = Sizes(100, 2000, 30, 1000, 3)


def seed_ours(uri: str, exp_name: str, count: int) -> None:
    from mlcadence.tracking import Client, Metric, Param

    client = Client(uri)
    exp_id = client.create_experiment(exp_name)
    for i in range(count):
        run = client.create_run(exp_id, run_name=f"r{i}", start_time=T0 + i)
        client.log_batch(
            run.run_id,
            metrics=[Metric("m", (i % 100) / 100, T0, 0)],
            params=[Param("p", "x" if i % 2 else "y")],
        )


def seed_mlflow(uri: str, artifacts: Path, exp_name: str, count: int) -> None:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri, str(artifacts))
    exp_id = store.create_experiment(exp_name)
    for i in range(count):
        run = store.create_run(
            exp_id, "bench", T0 + i, [RunTag("mlflow.runName", f"r{i}")], f"r{i}"
        )
        store.log_batch(
            run.info.run_id,
            metrics=[Metric("m", (i % 100) / 100, T0, 0)],
            params=[Param("p", "x" if i % 2 else "y")],
            tags=[],
        )


def workloads(client, exp_id: str, sizes: Sizes):
    from mlflow.entities import Metric, Param

    def log_metric_one_at_a_time():
        run_id = client.create_run(exp_id).info.run_id
        start = time.perf_counter()
        for i in range(sizes.log_metric_calls):
            client.log_metric(run_id, "loss", i / 7, timestamp=T0 + i, step=i)
        return time.perf_counter() - start

    def log_batch_10k():
        run_id = client.create_run(exp_id).info.run_id
        items = [Metric(f"m{i % 10}", i / 3, T0 + i, i) for i in range(sizes.batch_metrics)]
        start = time.perf_counter()
        for chunk in range(0, len(items), 1000):
            client.log_batch(run_id, metrics=items[chunk : chunk + 1000])
        return time.perf_counter() - start

    def small_runs():
        start = time.perf_counter()
        for i in range(sizes.small_runs):
            run_id = client.create_run(exp_id).info.run_id
            client.log_batch(run_id, metrics=[Metric("m", i, T0, 0)], params=[Param("p", str(i))])
            client.set_terminated(run_id)
        return time.perf_counter() - start

    return {
        f"log_metric x{sizes.log_metric_calls}": log_metric_one_at_a_time,
        f"log_batch {sizes.batch_metrics}": log_batch_10k,
        f"create {sizes.small_runs} runs": small_runs,
    }


def search(client, exp_id: str):
    def run():
        start = time.perf_counter()
        found = client.search_runs([exp_id], FILTER, order_by=ORDER_BY, max_results=100)
        elapsed = time.perf_counter() - start
        assert len(found) == 100, len(found)
        return elapsed

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes()
    warnings.simplefilter("ignore")
    import mlflow
    from mlflow import MlflowClient

    bin_dir = Path(sys.executable).parent
    root = Path(tempfile.mkdtemp(prefix="mlc-server-bench-"))
    servers = {}
    try:
        for label, command in (
            ("mlcadence", [str(bin_dir / "mlcadence"), "server"]),
            ("mlflow", [shutil.which("mlflow") or str(bin_dir / "mlflow"), "server"]),
        ):
            folder = root / label
            folder.mkdir()
            if label == "mlcadence":
                seed_ours(f"sqlite:///{folder / 'store.db'}", "search", sizes.search_runs)
            else:
                seed_mlflow(
                    f"sqlite:///{folder / 'store.db'}",
                    folder / "artifacts",
                    "search",
                    sizes.search_runs,
                )
            store_args = ["--backend-store-uri", f"sqlite:///{folder / 'store.db'}"]
            store_args += ["--artifacts-destination", str(folder / "artifacts")]
            servers[label] = LiveServer(label, command, folder, store_args)
        print(f"mlflow {mlflow.__version__}; {sizes}; median of {sizes.repeats} repeats")
        results: dict[str, dict[str, float]] = {}
        clients = {label: MlflowClient(s.url) for label, s in servers.items()}
        exp_ids = {label: c.create_experiment("bench") for label, c in clients.items()}
        search_ids = {
            label: c.get_experiment_by_name("search").experiment_id for label, c in clients.items()
        }
        names = list(workloads(clients["mlflow"], exp_ids["mlflow"], sizes)) + [
            f"search {sizes.search_runs} runs"
        ]
        for name in names:
            calls = {}
            for label, client in clients.items():
                table = workloads(client, exp_ids[label], sizes)
                calls[label] = table.get(name) or search(client, search_ids[label])
                calls[label]()  # warm-up (connections, caches), not timed
            # Repeats alternate between the servers, so a change in machine load
            # falls on both alike.
            times: dict[str, list[float]] = {label: [] for label in calls}
            for _ in range(sizes.repeats):
                for label, call in calls.items():
                    times[label].append(call())
            results[name] = {label: statistics.median(t) for label, t in times.items()}
        print(f"{'workload':<26}{'mlcadence s':>13}{'mlflow s':>11}{'speed-up':>10}")
        for name, row in results.items():
            ratio = row["mlflow"] / row["mlcadence"]
            print(f"{name:<26}{row['mlcadence']:>13.3f}{row['mlflow']:>11.3f}{ratio:>9.1f}x")
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
