"""Live tracking servers for the tests of the http(s):// backend: ours
(`mlcadence server`, from tests/tracking/server_fixtures.py) and the real
`mlflow server` (sqlite store, artifacts proxied), as subprocesses.

Starting `mlflow server` takes many seconds, so a module shares one and each
test gets an emptied store: every table is cleared except the schema version
and the Default experiment, and the artifact directory is removed. Test
modules (or their conftest) import the fixtures they use.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """One `mlflow server` process on a fixed port; restartable on that port."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def start(self) -> LiveServer:
        argv = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.db_path}",
            "--artifacts-destination",
            str(self.artifacts),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )
        log.close()
        self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"mlflow server not healthy in {STARTUP_SECONDS}s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole process group (uvicorn and its worker)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def wipe(self) -> None:
        """Empty the store (as a new server would have it) while it runs."""
        with sqlite3.connect(self.db_path, timeout=30) as db:
            tables = [
                name
                for (name,) in db.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            for table in tables:
                if table == "alembic_version":
                    continue
                if table == "experiments":
                    db.execute("DELETE FROM experiments WHERE experiment_id != 0")
                elif table == "experiment_tags":
                    db.execute("DELETE FROM experiment_tags WHERE experiment_id != 0")
                else:
                    db.execute(f'DELETE FROM "{table}"')
        shutil.rmtree(self.artifacts, ignore_errors=True)


def start_mlflow_server(root: Path, port: int | None = None) -> LiveServer:
    root.mkdir(parents=True, exist_ok=True)
    return LiveServer(root, port or free_port()).start()


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """One real `mlflow server` for the module."""
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        yield server
    finally:
        server.stop()


LIVE_SERVER_KINDS = ["server", "mlflow-server"]


@pytest.fixture(params=LIVE_SERVER_KINDS)
def live_server(request, tmp_path):
    """A tracking server with an empty store, each kind in turn: ours (`mlcadence
    server` over sqlite, the `tracking_server` fixture of
    tests/tracking/server_fixtures.py, which the conftest must import too) and
    the module's `mlflow server`. Both have `.url` and `.artifacts` (the
    directory the server keeps artifacts in)."""
    if request.param == "server":
        start = request.getfixturevalue("tracking_server")
        return start(f"sqlite:///{tmp_path / 'served.db'}")
    server = request.getfixturevalue("mlflow_server")
    server.wipe()
    return server


@pytest.fixture
def live_tracking_uri(live_server):
    """`live_server` as a tracking URI."""
    return live_server.url
