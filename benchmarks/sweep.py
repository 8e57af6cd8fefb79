"""A 16-candidate sweep: threads vs a Dask cluster of 2 workers vs MLflow.

    python benchmarks/sweep.py [--repeats 3]

The grid: 8 windows × {random_forest, logistic_regression} on synthetic:42,
no registration (a gate against a growing champion history would make the
repeats unequal). Every mode logs to one `mlcadence server` (sqlite store,
started here) in an experiment of its own, so all pay the same HTTP store:

  threads   `mlcadence sweep --task-runner threads` (4 threads in the CLI's process)
  dask      `mlcadence sweep --task-runner dask://HOST:PORT`: a `dask scheduler`
            and two `dask worker` processes (one thread each) started once
            here, before the timings, as an existing cluster would be
  mlflow    benchmarks/mlflow_project/sweep.py: one process, MLflow's fluent
            API, the 16 candidates one after another in nested runs (the fair
            equivalent of one sweep command: `mlflow run` per candidate would
            add a process start and the data preparation to each)

Every command is a fresh process with a fresh data cache. The mlcadence
commands share one local Prefect server (started by the untimed warm-up,
stopped at the end). "compute" is the same 16 fits and evaluations in a
bare loop in this process, no tracking; overhead per candidate is (wall -
compute) / 16, so a mode that runs candidates in parallel can go below the
sequential compute. Prints medians and ratios against mlflow.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
# Run as a script, this folder comes first on sys.path, and a sibling benchmark
# named like a package (benchmarks/tracking.py) would shadow it.
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != str(HERE)]
sys.path.insert(0, str(REPO_ROOT))  # the tests' process fixtures

from benchmarks.commands import timed, which  # noqa: E402
from tests.dask_fixtures import DaskCluster  # noqa: E402
from tests.tracking.server_fixtures import ServerProcess  # noqa: E402

SOURCE = "synthetic:42"
WINDOWS = [3, 5, 7, 10, 14, 21, 28, 35]
MODELS = ["random_forest", "logistic_regression"]
CANDIDATES = len(WINDOWS) * len(MODELS)
INSTALL_HINT = "pip install -e '.[dask]' (and mlflow for the peer)"


def bare_compute() -> float:
    """The grid's fits and evaluations alone, one after another."""
    from mlcadence.pipeline import estimators, evaluation, features, sources

    start = time.perf_counter()
    frame = sources.load(SOURCE).frame
    for window in WINDOWS:
        split = features.prepare(frame, window)
        for model in MODELS:
            fitted = estimators.fit(model, None, split.X_train, split.y_train)
            evaluation.evaluate(fitted, split.X_test, split.y_test, split.y_train)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.repeats < 3:
        sys.exit("--repeats must be at least 3 (medians of fewer say little)")

    work = Path(tempfile.mkdtemp(prefix="mlcadence-sweep-bench-"))
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "MLCADENCE_", "MLFLOW_"))
    }
    base |= {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": str(work / "prefect"),
        "MLCADENCE_STATE_DIR": str(work / "state"),
    }
    mlcadence = which("mlcadence", INSTALL_HINT)
    grid = ["--windows", ",".join(map(str, WINDOWS)), "--models", ",".join(MODELS)]
    server = ServerProcess(
        f"sqlite:///{work / 'served.db'}", work / "mlartifacts", work / "server.log", [], base
    )
    cluster = DaskCluster(work / "dask", 2, base)
    times: dict[str, list[float]] = {"threads": [], "dask": [], "mlflow": [], "compute": []}
    try:
        server.start()
        cluster.start()
        print(f"work dir {work}; {os.cpu_count()} CPUs; {CANDIDATES} candidates", flush=True)

        def sweep(runner: str, experiment: str) -> list[str]:
            return [mlcadence, "sweep", "--source", SOURCE, *grid, "--no-register", "-q"] + [
                "--task-runner",
                runner,
                "--tracking-uri",
                server.url,
                "--experiment",
                experiment,
            ]

        mlflow_sweep = [sys.executable, str(HERE / "mlflow_project" / "sweep.py")]
        mlflow_sweep += ["--source", SOURCE, *grid, "--experiment", "bench-mlflow"]
        modes = {
            "threads": (sweep("threads", "bench-threads"), base),
            "dask": (sweep(cluster.spec, "bench-dask"), base),
            "mlflow": (mlflow_sweep, base | {"MLFLOW_TRACKING_URI": server.url}),
        }
        bare_compute()  # first imports, not counted
        for mode, (cmd, env) in modes.items():
            env = env | {"MLCADENCE_CACHE_DIR": str(work / f"cache-{mode}-warm")}
            print(f"warm-up  {mode:<8} {timed(cmd, env, work):6.2f} s (not counted)", flush=True)
        for i in range(args.repeats):
            times["compute"].append(bare_compute())
            for mode, (cmd, env) in modes.items():
                env = env | {"MLCADENCE_CACHE_DIR": str(work / f"cache-{mode}-{i}")}
                elapsed = timed(cmd, env, work)
                times[mode].append(elapsed)
                print(f"run {i + 1}    {mode:<8} {elapsed:6.2f} s", flush=True)
    finally:
        down = subprocess.run([mlcadence, "down"], env=base, capture_output=True, text=True)
        print(down.stdout + down.stderr, end="", flush=True)
        cluster.stop()
        server.stop()

    compute = statistics.median(times["compute"])
    peer = statistics.median(times["mlflow"])
    print()
    print(f"compute (16 fits + evaluations, bare loop): {compute:.2f} s median")
    print(
        f"{'mode':<8} {'median':>8} {'min':>8} {'max':>8} {'vs mlflow':>10} "
        f"{'per cand.':>10} {'overhead/cand.':>15}"
    )
    for mode in ("threads", "dask", "mlflow"):
        values = times[mode]
        med = statistics.median(values)
        print(
            f"{mode:<8} {med:8.2f} {min(values):8.2f} {max(values):8.2f} {med / peer:9.2f}x "
            f"{med / CANDIDATES:9.3f}s {(med - compute) / CANDIDATES:14.3f}s"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
