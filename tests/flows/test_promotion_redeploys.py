"""Promotion always redeploys, on a real Prefect server with a real process
worker: the `deploy` deployment (prefect.yaml's entry, with its promotion
trigger) serves the champion after the gate promotes, after `mlcadence models
promote`, and after `mlcadence models rollback`, while a load runs against
the endpoint without one failed request."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from mlcadence.flows import serve
from mlcadence.flows.training import training
from tests.flows.test_prefect_yaml_e2e import _retrying, prefect_cli, wait_for
from tests.serving.flagship import BOOK_ROW

pytestmark = pytest.mark.integration


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Load:
    """Two threads posting to /invocations until stopped, counting failures."""

    def __init__(self, url: str):
        self.url, self.ok, self.failed = url, 0, []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(2)]

    def _run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                try:
                    response = http.post(self.url, json={"data": [BOOK_ROW]})
                    if response.status_code == 200:
                        self.ok += 1
                    else:
                        self.failed.append(response.status_code)
                except httpx.HTTPError as exc:
                    self.failed.append(repr(exc))
                time.sleep(0.02)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def test_gate_cli_promotion_and_rollback_each_redeploy_the_champion_under_load(
    prefect_server, store, tracking_uri, tmp_path, run_flow, run_command
):
    api = httpx.Client(base_url=prefect_server, timeout=30)
    name = f"promo{secrets.token_hex(3)}"
    pool = f"mlcadence-promo-{secrets.token_hex(3)}"
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "MLCADENCE_TRACKING_URI": tracking_uri,
        "MLCADENCE_STATE_DIR": str(tmp_path / "state"),
        "MLCADENCE_CACHE_DIR": str(tmp_path / "cache"),
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    assert api.post("/work_pools/", json={"name": pool, "type": "process"}).status_code == 201
    (entry,) = [e for e in serve.read_deployments() if e["name"] == "deploy"]
    deployment = serve.to_deployment({**entry, "parameters": {"port": port}})
    deployment_id = str(deployment.apply(work_pool_name=pool))
    worker = subprocess.Popen(
        [*prefect_cli(), "worker", "start", "--pool", pool],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    health = f"http://127.0.0.1:{port}/health"

    def served() -> str | None:
        try:
            return str(httpx.get(health, timeout=5).json()["model"]["version"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return None

    def deploy_runs() -> list[dict]:
        return api.post(
            "/flow_runs/filter",
            json={"deployments": {"id": {"any_": [deployment_id]}}, "limit": 20},
        ).json()

    def redeployed(count: int, version: str):
        """`count` deploy runs completed, and the endpoint serves `version`."""
        runs = deploy_runs()
        done = [r for r in runs if r["state"]["type"] == "COMPLETED"]
        assert not [r for r in runs if r["state"]["type"] in ("FAILED", "CRASHED")], runs
        return len(done) >= count and served() == version

    try:
        # 1. The gate promotes the first model: the event deploys it.
        result = run_flow(training, source="synthetic:11", register_as=name)
        assert result.champion_changed and result.version == 1
        assert wait_for(lambda: redeployed(1, "1"), timeout=300), (deploy_runs(), served())
        # Prefect delivers events at least once (a client that reconnects under
        # load resends what was not confirmed), so a promotion may start more
        # than one deploy run; each must deploy the alias, never a pinned number.
        runs = deploy_runs()
        assert runs and all(
            r["parameters"]["model_uri"] == f"models:/{name}@champion" for r in runs
        )
        (server,) = local_deployments(tmp_path / "state")

        with Load(f"http://127.0.0.1:{port}/invocations") as load:
            # 2. A second version, registered only, promoted by hand.
            second = run_flow(training, source="synthetic:12", register_as=name, promote=False)
            assert second.version == 2 and not second.champion_changed
            cli = [sys.executable, "-c", "from mlcadence.cli import main; main()", "models"]
            promoted = run_command([*cli, "promote", name, "2"], env=env, timeout=120)
            assert promoted.returncode == 0, promoted.stderr
            assert "announced to Prefect" in promoted.stdout
            assert wait_for(lambda: redeployed(2, "2"), timeout=300), (deploy_runs(), served())

            # 3. Rollback: back to version 1, through the same event.
            rolled = run_command([*cli, "rollback", name], env=env, timeout=120)
            assert rolled.returncode == 0, rolled.stderr
            assert f"{name}@champion -> version 1 (was version 2)" in rolled.stdout
            assert wait_for(lambda: redeployed(3, "1"), timeout=300), (deploy_runs(), served())
        assert load.failed == [] and load.ok > 0
        # The local server followed the alias: each redeploy confirmed its hot
        # reload instead of starting another process.
        (followed,) = local_deployments(tmp_path / "state")
        assert followed.handle == server.handle and "followed_at" in followed.details

        from mlcadence import tracking

        client = tracking.Client(tracking_uri)
        for version in (1, 2):
            tags = client.get_model_version(name, version).tags
            assert tags["endpoint"] == f"http://127.0.0.1:{port}/invocations"
        moves = [(m.version, m.by) for m in promotion_history(client, name)]
        assert moves == [(1, "gate"), (2, "hand"), (1, "rollback")]
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        stop_local_deployments(tmp_path / "state")
        for flow_run in deploy_runs():
            _retrying(api.delete, f"/flow_runs/{flow_run['id']}")
        _retrying(api.delete, f"/automations/owned-by/prefect.deployment.{deployment_id}")
        _retrying(api.delete, f"/deployments/{deployment_id}")
        _retrying(api.delete, f"/work_pools/{pool}")


def promotion_history(client, name: str):
    from mlcadence.pipeline.promotion import alias_history

    return alias_history(client, name)


def local_deployments(state_dir) -> list:
    from mlcadence.serving.local_target import LocalTarget

    return LocalTarget(state_dir / "deployments" / "local").list()


def stop_local_deployments(state_dir) -> None:
    """Stop the servers the worker's deploy runs started (they outlive the runs)."""
    from mlcadence.serving.local_target import LocalTarget

    target = LocalTarget(state_dir / "deployments" / "local")
    for record in target.list():
        if record.status == "running":
            target.stop(record.name, record.store)
