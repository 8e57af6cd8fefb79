"""A real `mlcadence server` in a subprocess, for tests of the server and of
clients that talk to it (import the fixture `tracking_server` into a
conftest or test module).

    def test_x(tracking_server, backend_uri):
        server = tracking_server(backend_uri)          # started, /health answered
        server.url                                     # http://127.0.0.1:<port>
        server.restart()                               # same port, same store
        server.log()                                   # its stdout+stderr so far
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# The `mlcadence` command, as its console script runs it (wherever pip put the script).
MLCADENCE = [sys.executable, "-c", "from mlcadence.cli import main; main()"]
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    def __init__(self, backend_uri: str, artifacts: Path, log_path: Path, args, env):
        self.backend_uri = backend_uri
        self.artifacts = artifacts
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._args = list(args)
        self._env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        command = [
            *MLCADENCE,
            "server",
            "--backend-store-uri",
            self.backend_uri,
            "--artifacts-destination",
            str(self.artifacts),
            "--port",
            str(self.port),
            *self._args,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self.log_path.parent,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not answer /health:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self.process = None

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def tracking_server(tmp_path):
    """tracking_server(backend_uri, *extra_cli_args, **env) -> a started
    ServerProcess serving artifacts from its own folder; stopped at teardown."""
    started: list[ServerProcess] = []

    def start(backend_uri: str, *args: str, **env: str) -> ServerProcess:
        folder = tmp_path / f"server-{len(started)}"
        folder.mkdir()
        full_env = {**os.environ, **env}
        server = ServerProcess(
            backend_uri, folder / "mlartifacts", folder / "server.log", args, full_env
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
