"""Wall time of the training pipeline: mlcadence on Prefect vs an MLflow project.

    python benchmarks/pipeline.py [--repeats 3] [--api-url URL] [--no-ephemeral]

Three commands, each a fresh process doing the same work (synthetic:42 data,
14-day window, RandomForest(50), metrics, model logged with signature and
input example, registered, aliased, gated):

  mlcadence/server     `mlcadence train --source synthetic:42` with PREFECT_API_URL
                       set to a running Prefect server (started here unless
                       --api-url is given)
  mlcadence/ephemeral  the same with no PREFECT_API_URL: Prefect starts a
                       temporary server inside the command
  mlflow               `mlflow run benchmarks/mlflow_project --env-manager local`
                       logging to a file store

Each mode keeps its own store across repeats (each run gates against the
previous champion, as a user's second run would). One untimed warm-up per
mode first (database creation, first imports), then the modes interleave so
machine load hits them alike. Prints medians and ratios against mlflow.
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
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
MLFLOW_PROJECT = HERE / "mlflow_project"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def which(name: str) -> str:
    found = shutil.which(name)
    if not found:
        sys.exit(f"{name} is not on PATH: pip install -e . (and mlflow for the peer)")
    return found


class PrefectServer:
    """`prefect server start` in a throwaway PREFECT_HOME, for the run's length."""

    def __init__(self, home: Path):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> PrefectServer:
        env = {
            **os.environ,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        env.pop("PREFECT_API_URL", None)
        self.log = open(self.home / "server.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                which("prefect"),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-ui",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                sys.exit(f"prefect server exited; see {self.home / 'server.log'}")
            time.sleep(0.5)
        sys.exit("prefect server did not become healthy in 180 s")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        output = f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{output}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--api-url", help="Use this running Prefect server instead of starting one")
    parser.add_argument("--no-ephemeral", action="store_true", help="Skip the ephemeral mode")
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
    train = [which("mlcadence"), "train", "--source", "synthetic:42", "-q"]
    mlflow = [
        which("mlflow"),
        "run",
        str(MLFLOW_PROJECT),
        "--env-manager",
        "local",
        "-P",
        "seed=42",
    ]

    def mlcadence_env(mode: str, api_url: str | None) -> dict[str, str]:
        env = {
            **base,
            "PREFECT_HOME": str(work / f"prefect-{mode}"),
            "MLCADENCE_TRACKING_URI": str(work / f"mlruns-{mode}"),
            "MLCADENCE_CACHE_DIR": str(work / f"cache-{mode}"),
        }
        if api_url:
            env["PREFECT_API_URL"] = api_url
        return env

    mlflow_env = {
        **base,
        "MLFLOW_TRACKING_URI": (work / "mlflow-store").as_uri(),
        "MLFLOW_ALLOW_FILE_STORE": "true",  # MLflow 3 warns about the file store otherwise
        # the ML code of the MLflow project is mlcadence's pipeline package
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }

    server_home = work / "prefect-server-home"
    server_home.mkdir()
    try:
        if args.api_url:
            server_ctx = None
            api_url = args.api_url
        else:
            server_ctx = PrefectServer(server_home).__enter__()
            api_url = server_ctx.url
        modes: dict[str, tuple[list[str], dict[str, str]]] = {
            "mlcadence/server": (train, mlcadence_env("server", api_url)),
            "mlflow": (mlflow, mlflow_env),
        }
        if not args.no_ephemeral:
            modes["mlcadence/ephemeral"] = (train, mlcadence_env("ephemeral", None))
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        print(f"work dir {work}; Prefect server {api_url}; {os.cpu_count()} CPUs", flush=True)
        for mode, (cmd, env) in modes.items():
            print(f"warm-up  {mode:<20} {timed(cmd, env, work):6.2f} s (not counted)", flush=True)
        for i in range(args.repeats):
            for mode, (cmd, env) in modes.items():
                elapsed = timed(cmd, env, work)
                times[mode].append(elapsed)
                print(f"run {i + 1}    {mode:<20} {elapsed:6.2f} s", flush=True)
    finally:
        if not args.api_url and "server_ctx" in locals() and server_ctx is not None:
            server_ctx.__exit__(None, None, None)

    peer = statistics.median(times["mlflow"])
    print()
    print(f"{'mode':<20} {'median':>8} {'min':>8} {'max':>8} {'vs mlflow':>10}")
    for mode, values in times.items():
        med = statistics.median(values)
        print(f"{mode:<20} {med:8.2f} {min(values):8.2f} {max(values):8.2f} {med / peer:9.2f}x")
    target = statistics.median(times["mlcadence/server"]) <= peer
    verdict = "met" if target else "NOT met"
    print(f"\ntarget (mlcadence with a running server <= mlflow run): {verdict}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
