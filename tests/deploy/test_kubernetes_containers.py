"""The tracking and model server containers, run here as their manifests run
them: the same command lines and environments (the Secrets' values,
PostgreSQL for the store, a folder for the artifact volume), the model server
talking to the tracking server, and their probes asked as the kubelet asks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.deploy import kubernetes as k8s
from tests.http_fixtures import free_port
from tests.serving.flagship import BOOK_ROW, FEATURES

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

STARTUP_SECONDS = 180
# Logs a model to the tracking server over HTTP, registers it and makes it
# the champion, as a training flow in a pod would.
REGISTER_CHAMPION = """
import sys
import mlcadence
import numpy as np, pandas as pd
from sklearn.ensemble import RandomForestClassifier
from mlcadence.tracking.models import log_model

name, columns = sys.argv[1], sys.argv[2].split(",")
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.integers(0, 2, size=(200, len(columns))), columns=columns)
y = (X[columns[0]] + X[columns[1]] >= 1).astype(int)
with mlcadence.start_run(run_name="k8s"):
    info = log_model(RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y), "model",
                     input_example=X.head(2), registered_model_name=name)
mlcadence.Client().set_registered_model_alias(name, "champion", info.registered_version)
"""


@dataclass
class Running:
    url: str
    container: dict
    process: subprocess.Popen
    log_path: Path

    def wait_ready(self) -> None:
        """Until the readiness probe's path answers 200, as the kubelet waits."""
        path = self.container["readinessProbe"]["httpGet"]["path"]
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"exited: {self.log_path.read_text()[-3000:]}"
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{path} never answered 200: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


def _environment(container: dict, replaced: dict[str, str]) -> dict[str, str]:
    secrets = k8s.secret_values()
    env = {}
    for entry in container["env"]:
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        env[entry["name"]] = secrets[ref["name"], ref["key"]] if ref else entry["value"]
    return env | replaced


def _with_port(args: list[str], port: int) -> list[str]:
    at = args.index("--port") + 1
    return [*args[:at], str(port), *args[at + 1 :]]


@pytest.fixture
def postgres_store(postgres_database):
    with postgres_database() as url:
        yield url


@pytest.fixture
def start_container(tmp_path):
    """start_container(workload, **env) -> the workload's container running
    here on a free port, `env` replacing what a cluster alone provides."""
    started: list[Running] = []

    def start(workload: str, **replaced: str) -> Running:
        (container,) = k8s.containers(k8s.workload(workload))
        assert container["command"][0] == "mlcadence"
        port = free_port()
        log_path = tmp_path / f"{workload}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "mlcadence.cli", *container["command"][1:]]
                + _with_port(container["args"], port),
                env={**os.environ, **_environment(container, replaced)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(Running(f"http://127.0.0.1:{port}", container, process, log_path))
        return started[-1]

    yield start
    for running in reversed(started):
        running.stop()


@pytest.fixture
def tracking(postgres_store, start_container, tmp_path) -> Running:
    server = start_container(
        "mlcadence-tracking",
        MLCADENCE_SERVER_BACKEND_STORE_URI=postgres_store,
        # The volume's mount path, here a folder of the test's own.
        MLCADENCE_SERVER_ARTIFACTS_DESTINATION=str(tmp_path / "artifacts"),
    )
    server.wait_ready()
    return server


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {k8s.secret_values()['mlcadence-tokens', key]}"}


def test_the_tracking_container_answers_its_probes_and_checks_tokens(tracking):
    # Probes carry no token: both stay open on a server that requires one.
    liveness = tracking.container["livenessProbe"]["httpGet"]["path"]
    assert httpx.get(tracking.url + liveness, timeout=10).status_code == 200
    search = f"{tracking.url}/api/2.0/mlflow/experiments/search"
    assert httpx.post(search, json={"max_results": 1}, timeout=10).status_code == 401
    for key in ("writer-token", "reader-token"):
        answer = httpx.post(search, json={"max_results": 1}, headers=_bearer(key), timeout=10)
        assert answer.status_code == 200, answer.text


def _served_version(model: Running) -> str | None:
    health = httpx.get(model.url + "/health", timeout=10).json()
    assert health["status"] == "ok"
    return health["model"]["version"]


def test_the_model_container_serves_and_follows_the_champion_of_the_tracking_container(
    tracking, start_container, run_python
):
    (container,) = k8s.containers(k8s.workload("mlcadence-model"))
    model_uri = container["args"][container["args"].index("--model-uri") + 1]
    name = model_uri.removeprefix("models:/").partition("@")[0]
    writer = k8s.secret_values()["mlcadence-tokens", "writer-token"]

    def register_champion() -> None:
        registered = run_python(
            REGISTER_CHAMPION,
            name,
            ",".join(FEATURES),
            timeout=300,
            MLCADENCE_TRACKING_URI=tracking.url,
            MLCADENCE_TRACKING_TOKEN=writer,
        )
        assert registered.returncode == 0, registered.stderr

    register_champion()
    # The Service name (mlcadence-tracking) resolves only in a cluster.
    model = start_container("mlcadence-model", MLCADENCE_TRACKING_URI=tracking.url)
    model.wait_ready()
    assert _served_version(model) == "1"
    body = {"dataframe_split": {"columns": FEATURES, "data": [BOOK_ROW]}}
    scored = httpx.post(model.url + "/invocations", json=body, timeout=30)
    assert scored.status_code == 200, scored.text
    assert scored.json()["predictions"][0] in (0, 1)

    # A new champion reaches the running pod without a rollout (the
    # manifest's MLCADENCE_SERVING_RELOAD_INTERVAL).
    register_champion()
    deadline = time.monotonic() + STARTUP_SECONDS
    while _served_version(model) != "2" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _served_version(model) == "2"
