"""Tracking benchmark: our file and SQL backends against MLflow's file and sqlite
stores, the same workload in one process, through each side's client
(`tracking.Client` vs `mlflow.MlflowClient`).

    python benchmarks/tracking.py            # full size (a few minutes)
    python benchmarks/tracking.py --quick    # scaled down, for a smoke check

All logging measured here is synchronous on both sides: when a call returns,
the value is stored and another process can read it.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"  # compare synchronous with synchronous
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

T0 = 1_700_000_000_000
FILTER = "metrics.m1 > 0.5"
ORDER_BY = ["metrics.m2 DESC"]


@dataclass
class Sizes:
    log_metric_calls: int = 1000
    batch_metrics: int = 10_000
    small_runs: int = 300
    big_runs: int = 10_000
    fast_repeats: int = 5
    slow_repeats: int = 3


QUICK = Sizes(100, 2000, 30, 1000, 5, 3)


# -- adapters: one per store, the same operations on both APIs ------------------------
class Store:
    label: str
    family: str  # "ours" | "mlflow"
    kind: str  # "file" | "sql"

    def new_experiment(self, name: str) -> str: ...
    def create_run(self, exp_id: str) -> str: ...
    def log_metric(self, run_id: str, key: str, value: float, ts: int, step: int) -> None: ...
    def make_metrics(self, items: list[tuple[str, float, int, int]]) -> list: ...
    def log_batch(self, run_id: str, metrics: list) -> None: ...
    def log_param(self, run_id: str, key: str, value: str) -> None: ...
    def terminate(self, run_id: str) -> None: ...
    def search(self, exp_id: str, max_results: int = 1000) -> int: ...
    def populate(self, exp_id: str, runs: list[dict]) -> None: ...


class Ours(Store):
    family = "ours"

    def __init__(self, uri: str, kind: str):
        from mlcadence.tracking import Client

        self.kind, self.label = kind, f"ours-{kind}"
        self.client = Client(uri)

    def new_experiment(self, name):
        return self.client.create_experiment(name)

    def create_run(self, exp_id):
        return self.client.create_run(exp_id).info.run_id

    def log_metric(self, run_id, key, value, ts, step):
        self.client.log_metric(run_id, key, value, timestamp=ts, step=step)

    def make_metrics(self, items):
        from mlcadence.tracking.entities import Metric

        return [Metric(*item) for item in items]

    def log_batch(self, run_id, metrics):
        self.client.log_batch(run_id, metrics=metrics)

    def log_param(self, run_id, key, value):
        self.client.log_param(run_id, key, value)

    def terminate(self, run_id):
        self.client.set_terminated(run_id)

    def search(self, exp_id, max_results=1000):
        return len(
            self.client.search_runs([exp_id], FILTER, max_results=max_results, order_by=ORDER_BY)
        )

    def populate(self, exp_id, runs):
        # Backend calls directly: population is set-up, not measured.
        from mlcadence.tracking.entities import Metric, Param, RunStatus, RunTag

        backend = self.client.backend
        for spec in runs:
            run = backend.create_run(exp_id, "bench", spec["start"], spec["name"],
                                     [RunTag("mlflow.runName", spec["name"])])  # fmt: skip
            rid = run.info.run_id
            backend.log_batch(
                rid,
                metrics=[Metric(k, v, spec["start"], 0) for k, v in spec["metrics"].items()],
                params=[Param(k, v) for k, v in spec["params"].items()],
            )
            backend.update_run(rid, RunStatus.FINISHED, spec["start"] + 1000)


class Mlflow(Store):
    family = "mlflow"

    def __init__(self, uri: str, kind: str):
        from mlflow.tracking import MlflowClient

        self.kind, self.label = kind, f"mlflow-{kind}"
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)

    def new_experiment(self, name):
        return self.client.create_experiment(name)

    def create_run(self, exp_id):
        return self.client.create_run(exp_id).info.run_id

    def log_metric(self, run_id, key, value, ts, step):
        self.client.log_metric(run_id, key, value, timestamp=ts, step=step, synchronous=True)

    def make_metrics(self, items):
        from mlflow.entities import Metric

        return [Metric(k, v, ts, step) for k, v, ts, step in items]

    def log_batch(self, run_id, metrics):
        self.client.log_batch(run_id, metrics=metrics, synchronous=True)

    def log_param(self, run_id, key, value):
        self.client.log_param(run_id, key, value, synchronous=True)

    def terminate(self, run_id):
        self.client.set_terminated(run_id)

    def search(self, exp_id, max_results=1000):
        found = self.client.search_runs(
            [exp_id], FILTER, max_results=max_results, order_by=ORDER_BY
        )
        return len(found)

    def populate(self, exp_id, runs):
        if self.kind == "file":
            # MLflow's file layout is the one our file backend writes, so
            # populate through ours (much faster) and let MLflow read it.
            Ours(self.uri, "file").populate(exp_id, runs)
        else:
            self._populate_sql(exp_id, runs)

    def _populate_sql(self, exp_id, runs):
        """Bulk insert through MLflow's own ORM models (its schema, its session)."""
        import uuid

        from mlflow.store.tracking.dbmodels import models as m
        from mlflow.tracking._tracking_service.utils import _get_store

        store = _get_store(self.uri)
        exp = self.client.get_experiment(exp_id)
        rows = []
        for spec in runs:
            rid = uuid.uuid4().hex
            rows.append(m.SqlRun(
                run_uuid=rid, name=spec["name"], source_type="LOCAL", source_name="",
                entry_point_name="", user_id="bench", status="FINISHED", start_time=spec["start"],
                end_time=spec["start"] + 1000, source_version="", lifecycle_stage="active",
                artifact_uri=f"{exp.artifact_location}/{rid}/artifacts", experiment_id=int(exp_id),
            ))  # fmt: skip
            rows.append(m.SqlTag(key="mlflow.runName", value=spec["name"], run_uuid=rid))
            for k, v in spec["metrics"].items():
                for model in (m.SqlMetric, m.SqlLatestMetric):
                    rows.append(model(key=k, value=v, timestamp=spec["start"], step=0,
                                      is_nan=False, run_uuid=rid))  # fmt: skip
            for k, v in spec["params"].items():
                rows.append(m.SqlParam(key=k, value=v, run_uuid=rid))
        with store.ManagedSessionMaker() as session:
            session.add_all(rows)


def run_specs(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "name": f"run-{i}",
            "start": T0 + i * 1000,
            "metrics": {"m1": rng.random(), "m2": rng.random()},
            "params": {"p1": str(rng.randint(0, 9)), "p2": rng.choice(["rf", "lr", "xgb"])},
        }
        for i in range(n)
    ]


# -- measuring ---------------------------------------------------------------------------
@dataclass
class Result:
    workload: str
    store: str
    ops: int  # operations per repetition
    unit: str
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.median


def measure(
    setup: Callable[[], object], timed: Callable[[object], None], sizes: Sizes
) -> list[float]:
    """Median material: `fast_repeats` runs when one takes under a second,
    else `slow_repeats` (at least 3 either way)."""
    times: list[float] = []
    while True:
        ctx = setup()
        start = time.perf_counter()
        timed(ctx)
        times.append(time.perf_counter() - start)
        wanted = sizes.fast_repeats if times[0] < 1.0 else sizes.slow_repeats
        if len(times) >= max(3, wanted):
            return times


WORKLOADS = ("log_metric", "log_batch", "small_runs", "search")


def bench_store(store: Store, sizes: Sizes, big_exp: str, log, workloads=WORKLOADS) -> list[Result]:
    results = []
    exp = store.new_experiment(f"bench-{store.label}")

    def record(workload, ops, unit, times):
        results.append(Result(workload, store.label, ops, unit, times))
        log(f"  {store.label:<14} {workload:<22} median {statistics.median(times) * 1000:9.1f} ms")

    n = sizes.log_metric_calls

    def log_metrics_one_by_one(run_id):
        for i in range(n):
            store.log_metric(run_id, "m", i * 0.1, T0 + i, i)

    if "log_metric" in workloads:
        times = measure(lambda: store.create_run(exp), log_metrics_one_by_one, sizes)
        record(f"log_metric x{n}", n, "metrics/s", times)

    total = sizes.batch_metrics

    def batch_setup():
        items = [(f"k{i % 10}", i * 0.5, T0 + i, i // 10) for i in range(total)]
        chunks = [store.make_metrics(items[s : s + 1000]) for s in range(0, total, 1000)]
        return store.create_run(exp), chunks

    def log_batches(ctx):
        run_id, chunks = ctx
        for chunk in chunks:
            store.log_batch(run_id, chunk)

    if "log_batch" in workloads:
        times = measure(batch_setup, log_batches, sizes)
        record(f"log_batch {total} (1000/call)", total, "metrics/s", times)

    small = sizes.small_runs
    small_exps = []

    def small_setup():
        small_exps.append(store.new_experiment(f"small-{store.label}-{len(small_exps)}"))
        return small_exps[-1], random.Random(3)

    def small_runs(ctx):
        exp_id, rng = ctx
        for i in range(small):
            rid = store.create_run(exp_id)
            store.log_param(rid, "alpha", str(i))
            store.log_param(rid, "model", "rf")
            store.log_metric(rid, "m1", rng.random(), T0 + i, 0)
            store.log_metric(rid, "m2", rng.random(), T0 + i, 0)
            store.terminate(rid)

    if "small_runs" in workloads:
        times = measure(small_setup, small_runs, sizes)
        record(f"{small} runs (2p+2m)", small, "runs/s", times)

    counts = {}

    def search(exp_id, key):
        def timed(_):
            counts[key] = store.search(exp_id)

        return timed

    if "search" not in workloads:
        return results
    if not small_exps:  # small-run workload skipped: same shape of runs, via the fast path
        small_exps.append(store.new_experiment(f"small-{store.label}"))
        store.populate(small_exps[-1], run_specs(small, seed=3))
    times = measure(lambda: None, search(small_exps[-1], "small"), sizes)
    record(f"search {small} runs", 1, "searches/s", times)
    times = measure(lambda: None, search(big_exp, "big"), sizes)
    record(f"search {sizes.big_runs} runs", 1, "searches/s", times)
    log(f"  {store.label:<14} matches: small={counts['small']} big={counts['big']}")
    return results


# -- report ---------------------------------------------------------------------------------
PAIRS = [("ours-file", "mlflow-file"), ("ours-sql", "mlflow-sql")]
TARGETS = [
    # (workload prefix, ours, theirs, minimum speed-up)
    ("log_metric", "ours-file", "mlflow-file", 5.0),
    ("log_metric", "ours-file", "mlflow-sql", 20.0),
    ("search BIG", "ours-file", "mlflow-file", 3.0),
    ("search BIG", "ours-sql", "mlflow-sql", 2.0),
]


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 1 else f"{x:.3g}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def report(results: list[Result], sizes: Sizes) -> bool:
    by = {(r.workload, r.store): r for r in results}
    workloads = list(dict.fromkeys(r.workload for r in results))
    stores = list(dict.fromkeys(r.store for r in results))
    print()
    print(
        "Medians; ops/s = operations per second; "
        "speed-up = ours ops/s / MLflow ops/s (>1: ours faster)."
    )
    print(
        "All logging is synchronous: on return the value is stored and readable by another process."
    )
    header = f"{'workload':<30}{'unit':<11}" + "".join(f"{s:>24}" for s in stores)
    header += "".join(f"{'speed-up ' + o.split('-')[1]:>15}" for o, _ in PAIRS)
    print(header)
    print("-" * len(header))
    for w in workloads:
        unit = next(r.unit for r in results if r.workload == w)
        line = f"{w:<30}{unit:<11}"
        for s in stores:
            r = by.get((w, s))
            cell = f"{_num(r.ops_per_s)} ({_ms(r.median)})" if r else "-"
            line += f"{cell:>24}"
        for ours, theirs in PAIRS:
            a, b = by.get((w, ours)), by.get((w, theirs))
            line += f"{a.ops_per_s / b.ops_per_s:>14.2f}x" if a and b else f"{'-':>15}"
        print(line)
    print()
    ok = True
    for prefix, ours, theirs, minimum in TARGETS:
        name = prefix.replace("BIG", f"{sizes.big_runs}")
        match = [w for w in workloads if w.startswith(name)]
        a = by.get((match[0], ours)) if match else None
        b = by.get((match[0], theirs)) if match else None
        if not (a and b):
            continue
        ratio = a.ops_per_s / b.ops_per_s
        verdict = "met" if ratio >= minimum else "MISSED"
        ok &= ratio >= minimum
        print(
            f"target {name:<18} {ours} vs {theirs:<12} >= {minimum:>4.1f}x : "
            f"{ratio:7.2f}x  {verdict}"
        )
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Scaled-down sizes for a smoke run.")
    parser.add_argument("--stores", default="ours-file,mlflow-file,ours-sql,mlflow-sql",
                        help="Comma-separated subset of stores to run.")  # fmt: skip
    parser.add_argument("--big-runs", type=int, help="Runs in the large search (default 10000).")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"Comma-separated subset of {', '.join(WORKLOADS)}.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary stores.")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    if args.big_runs:
        sizes.big_runs = args.big_runs
    wanted = args.stores.split(",")

    warnings.filterwarnings("ignore")
    import mlflow

    # After the import: mlflow configures its own logger when imported.
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)

    print(f"python {platform.python_version()}, mlflow {mlflow.__version__}, "
          f"{os.cpu_count()} cpus, {platform.platform()}")  # fmt: skip
    print(f"sizes: {sizes}")
    work = Path(tempfile.mkdtemp(prefix="mlc-bench-"))
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    try:
        factories = {
            "ours-file": lambda: Ours(str(work / "ours-file"), "file"),
            "mlflow-file": lambda: Mlflow((work / "mlflow-file").as_uri(), "file"),
            "ours-sql": lambda: Ours(f"sqlite:///{work / 'ours.db'}", "sql"),
            "mlflow-sql": lambda: Mlflow(f"sqlite:///{work / 'mlflow.db'}", "sql"),
        }
        specs = run_specs(sizes.big_runs)
        results: list[Result] = []
        file_copy_source: Path | None = None  # the populated ours-file experiment
        for label in wanted:
            store = factories[label]()
            start = time.perf_counter()
            if label == "mlflow-file" and file_copy_source is not None:
                # Same layout: MLflow searches a copy of the very runs ours searched.
                big_exp = file_copy_source.name
                shutil.copytree(file_copy_source, work / "mlflow-file" / big_exp)
            else:
                big_exp = store.new_experiment(f"big-{label}")
                store.populate(big_exp, specs)
            if label == "ours-file":
                file_copy_source = work / "ours-file" / big_exp
            log(f"{label}: populated {sizes.big_runs} runs in {time.perf_counter() - start:.1f}s "
                "(not measured)")  # fmt: skip
            results += bench_store(store, sizes, big_exp, log, args.workloads.split(","))
        ok = report(results, sizes)
    finally:
        if args.keep:
            print(f"stores kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
