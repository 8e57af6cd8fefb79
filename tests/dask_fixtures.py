"""A real Dask cluster for sweep tests: `dask scheduler` and `dask worker`
processes started as subprocesses (not an in-process cluster), so workers
share nothing with the test but what Dask ships to them. Test modules
import the fixture `dask_cluster`; benchmarks use `DaskCluster` directly.

    cluster = dask_cluster(workers=2, MLCADENCE_TRACKING_URI="...")  # extra worker env
    cluster.spec          # "dask://127.0.0.1:<port>", for --task-runner
    cluster.workers       # [Popen, ...]: one process per worker (no nanny)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

DASK = str(Path(sys.executable).with_name("dask"))
STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaskCluster:
    def __init__(self, folder: Path, workers: int, env: dict[str, str]):
        self.folder = folder
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.spec = f"dask://{self.address}"
        self.env = {**os.environ, **env}
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self._count = workers

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - the process owns it
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)

    def start(self) -> DaskCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler = self._spawn(
            "scheduler",
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
        )
        for index in range(self._count):
            # No nanny: the Popen is the worker itself, so a SIGKILL kills it
            # outright (a nanny would start a new one).
            self.workers.append(
                self._spawn(
                    f"worker-{index}",
                    [
                        DASK,
                        "worker",
                        f"tcp://{self.address}",
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--name",
                        f"worker-{index}",
                        "--death-timeout",
                        "60",
                    ],
                )
            )
        self.wait_for_workers(self._count)
        return self

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited early:\n{self.log('scheduler')}")
            try:
                with Client(f"tcp://{self.address}", timeout=5) as client:
                    client.wait_for_workers(count, timeout=STARTUP_SECONDS)
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"dask workers did not join:\n{self.log('scheduler')}")

    def kill_worker(self, index: int) -> None:
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait(timeout=30)

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=20)


@pytest.fixture
def dask_cluster(tmp_path):
    """dask_cluster(workers=2, **worker_env) -> a started DaskCluster; stopped at teardown."""
    started: list[DaskCluster] = []

    def start(workers: int = 2, **env: str) -> DaskCluster:
        cluster = DaskCluster(tmp_path / f"dask-{len(started)}", workers, env)
        started.append(cluster)
        return cluster.start()

    yield start
    for cluster in started:
        cluster.stop()
