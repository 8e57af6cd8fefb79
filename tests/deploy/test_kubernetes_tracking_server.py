"""The tracking server's container, run here as its manifest runs it: the
same command line and environment (the Secrets' values, PostgreSQL for the
store, a folder for the volume), and its probes asked as the kubelet asks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.deploy import kubernetes as k8s
from tests.http_fixtures import free_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

STARTUP_SECONDS = 120


def _container_environment(container: dict, replaced: dict[str, str]) -> dict[str, str]:
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
def tracking_container(postgres_database, tmp_path):
    """The manifest's tracking server, started; yields (base URL, container)."""
    (container,) = k8s.containers(k8s.workload("mlcadence-tracking"))
    port = free_port()
    with postgres_database() as store:
        env = _container_environment(
            container,
            {
                "MLCADENCE_SERVER_BACKEND_STORE_URI": store,
                # The volume's mount path, here a folder of the test's own.
                "MLCADENCE_SERVER_ARTIFACTS_DESTINATION": str(tmp_path / "artifacts"),
            },
        )
        command = [sys.executable, "-m", "mlcadence.cli", *container["command"][1:]]
        log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(
            [*command, *_with_port(container["args"], port)],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            yield f"http://127.0.0.1:{port}", container, process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=30)


def _wait_ready(url: str, path: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited: {log.read_text()[-3000:]}"
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{path} never answered 200: {log.read_text()[-3000:]}")


def test_the_tracking_server_container_answers_its_probes_and_checks_tokens(
    tracking_container, tmp_path
):
    url, container, process = tracking_container
    readiness = container["readinessProbe"]["httpGet"]["path"]
    liveness = container["livenessProbe"]["httpGet"]["path"]
    _wait_ready(url, readiness, process, tmp_path / "server.log")
    # Probes carry no token: both stay open on a server that requires one.
    assert httpx.get(url + liveness, timeout=10).status_code == 200
    search = f"{url}/api/2.0/mlflow/experiments/search"
    assert httpx.post(search, json={"max_results": 1}, timeout=10).status_code == 401
    secrets = k8s.secret_values()
    for client_key in ("writer-token", "reader-token"):
        headers = {"Authorization": f"Bearer {secrets['mlcadence-tokens', client_key]}"}
        answer = httpx.post(search, json={"max_results": 1}, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
