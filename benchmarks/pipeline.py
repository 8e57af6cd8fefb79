"""Wall time of the training pipeline: mlcadence on Prefect vs an MLflow project.

    python benchmarks/pipeline.py [--repeats 3]

Three commands, each a fresh process doing the same work (synthetic:42 data,
14-day window, RandomForest(50), metrics, model logged with signature and
input example, registered, aliased, gated):

  mlcadence            the README's quick start: `mlcadence train --source
                       synthetic:42` with no Prefect server configured; the
                       first command (the warm-up) starts the local Prefect
                       server that later commands reuse
  mlcadence/up         the same command with `mlcadence up` running (started
                       here, stopped at the end): the command finds the
                       platform by itself and runs in its warm runner
  mlflow               `mlflow run benchmarks/mlflow_project --env-manager local`
                       logging to a file store

Each mode keeps its own store, state folder and Prefect home across repeats
(each run gates against the previous champion, as a user's second run would).
One untimed warm-up per mode first (database creation, first imports), then
the modes interleave so machine load hits them alike. Prints medians and
ratios against mlflow, and the targets: the quick start no slower than
mlflow, and with `mlcadence up` at most 0.3x of it.
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
from pathlib import Path

from commands import timed, which

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
MLFLOW_PROJECT = HERE / "mlflow_project"
INSTALL_HINT = "pip install -e . (and mlflow for the peer)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.repeats < 3:
        sys.exit("--repeats must be at least 3 (medians of fewer say little)")

    work = Path(tempfile.mkdtemp(prefix="mlcadence-bench-"))
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "MLCADENCE_", "MLFLOW_"))
    }
    base["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    mlcadence = which("mlcadence", INSTALL_HINT)
    train = [mlcadence, "train", "--source", "synthetic:42", "-q"]
    mlflow = [
        which("mlflow", INSTALL_HINT),
        "run",
        str(MLFLOW_PROJECT),
        "--env-manager",
        "local",
        "-P",
        "seed=42",
    ]

    def mlcadence_env(mode: str) -> dict[str, str]:
        return {
            **base,
            "PREFECT_HOME": str(work / f"prefect-{mode}"),
            "MLCADENCE_STATE_DIR": str(work / f"state-{mode}"),
            "MLCADENCE_CACHE_DIR": str(work / f"cache-{mode}"),
        }

    quick_env = mlcadence_env("quick") | {"MLCADENCE_TRACKING_URI": str(work / "mlruns-quick")}
    up_env = mlcadence_env("up")
    mlflow_env = {
        **base,
        "MLFLOW_TRACKING_URI": (work / "mlflow-store").as_uri(),
        "MLFLOW_ALLOW_FILE_STORE": "true",  # MLflow 3 warns about the file store otherwise
        # the ML code of the MLflow project is mlcadence's pipeline package
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    modes: dict[str, tuple[list[str], dict[str, str]]] = {
        "mlcadence": (train, quick_env),
        "mlcadence/up": (train, up_env),
        "mlflow": (mlflow, mlflow_env),
    }
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        up = [mlcadence, "up", "--backend-store-uri", str(work / "mlruns-up")]
        up += ["--prefect-port", str(free_port()), "--tracking-port", str(free_port())]
        print(f"work dir {work}; {os.cpu_count()} CPUs", flush=True)
        print(f"mlcadence up     {timed(up, up_env, work):6.2f} s (not counted)", flush=True)
        for mode, (cmd, env) in modes.items():
            print(f"warm-up  {mode:<20} {timed(cmd, env, work):6.2f} s (not counted)", flush=True)
        for i in range(args.repeats):
            for mode, (cmd, env) in modes.items():
                elapsed = timed(cmd, env, work)
                times[mode].append(elapsed)
                print(f"run {i + 1}    {mode:<20} {elapsed:6.2f} s", flush=True)
    finally:
        for env in (quick_env, up_env):  # the quick start's server and the platform
            down = subprocess.run([mlcadence, "down"], env=env, capture_output=True, text=True)
            print(down.stdout + down.stderr, end="", flush=True)

    peer = statistics.median(times["mlflow"])
    print()
    print(f"{'mode':<20} {'median':>8} {'min':>8} {'max':>8} {'vs mlflow':>10}")
    for mode, values in times.items():
        med = statistics.median(values)
        print(f"{mode:<20} {med:8.2f} {min(values):8.2f} {max(values):8.2f} {med / peer:9.2f}x")
    print()
    for mode, target in (("mlcadence", 1.0), ("mlcadence/up", 0.3)):
        ratio = statistics.median(times[mode]) / peer
        verdict = "met" if ratio <= target else "NOT met"
        print(f"target {mode} <= {target}x mlflow run: {verdict} ({ratio:.2f}x)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
