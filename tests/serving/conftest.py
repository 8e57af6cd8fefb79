"""Fixtures for the serving tests: the flagship model (a RandomForest of 50
trees on 14 binary lag features, as in the book), its training data, and real
server processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.docker_fixtures import cache_env, docker, shared_cache  # noqa: F401
from tests.serving.flagship import FEATURES

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 180.0  # seconds; a busy 2-core CI box imports scikit-learn slowly


def _training_data(seed: int = 0, n: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.integers(0, 2, size=(n, len(FEATURES))), columns=FEATURES)
    y = ((X["lag_0"] + X["lag_1"] + X["lag_2"] + rng.integers(0, 2, n)) >= 2).astype(int).to_numpy()
    return X, y


def _train_forest(seed: int = 0, n_estimators: int = 50):
    from sklearn.ensemble import RandomForestClassifier

    X, y = _training_data(seed)
    return RandomForestClassifier(n_estimators=n_estimators, random_state=seed).fit(X, y), X


@pytest.fixture(scope="session")
def training_data() -> Callable[..., tuple[pd.DataFrame, np.ndarray]]:
    """training_data(seed=0, n=400) -> (X, y): lag features and a label."""
    return _training_data


@pytest.fixture(scope="session")
def train_forest() -> Callable:
    """train_forest(seed=0, n_estimators=50) -> (fitted forest, X)."""
    return _train_forest


@pytest.fixture(scope="session")
def stock_model(tmp_path_factory) -> Path:
    """The flagship model saved in MLmodel format (signature + serving example)."""
    from mlcadence.tracking.models import save_model

    est, X = _train_forest()
    path = tmp_path_factory.mktemp("models") / "stockpred"
    save_model(est, str(path), input_example=X.head(2))
    return path


@pytest.fixture(scope="session")
def stock_estimator():
    return _train_forest()[0]


class ServerProcess:
    """`python -m mlcadence.serving.server` on a free port, as a real separate process."""

    def __init__(self, args: list[str], env: dict[str, str] | None, state_dir: Path):
        self.state_file = state_dir / f"server-{time.monotonic_ns()}.json"
        self.log_path = self.state_file.with_suffix(".log")
        full_env = {**os.environ, **(env or {})}
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), full_env.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlcadence.serving.server",
                "--port",
                "0",
                "--state-file",
                str(self.state_file),
                *args,
            ],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=str(REPO_ROOT),
        )
        self.url = ""
        self.state: dict = {}

    def wait_up(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.log()}")
            if not self.url and self.state_file.exists():
                self.state = json.loads(self.state_file.read_text())
                self.url = f"http://127.0.0.1:{self.state['port']}"
            if self.url:
                try:
                    if httpx.get(self.url + "/health", timeout=5).status_code in (200, 503):
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not come up in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def start_server(tmp_path_factory):
    """start_server(args, env) -> a running ServerProcess, stopped after the module."""
    started: list[ServerProcess] = []
    state_dir = tmp_path_factory.mktemp("servers")

    def start(args: list[str], env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(args, env, state_dir)
        started.append(server)
        return server.wait_up()

    yield start
    for server in started:
        server.stop()
