"""The real prefect.yaml, end to end, on the session's Prefect server:
`prefect deploy` of the process pool's deployments, a run of `train` created
through the REST endpoint the UI's Run button posts to, a process worker
running it, and the promotion event triggering the `deploy` deployment."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from mlcadence.tracking.entities import RunStatus

REPO_ROOT = Path(__file__).resolve().parents[2]
POOL = "mlcadence-pool"
DEPLOYMENTS = {"train": "training", "retrain": "retraining", "sweep": "sweep", "deploy": "deploy"}


def prefect_cli() -> list[str]:
    """Prefect's CLI on this interpreter: a `prefect` found on PATH may belong
    to another Python, which imports another mlcadence (and then runs the
    flows of that one)."""
    return [sys.executable, "-m", "prefect"]


def wait_for(predicate, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.mark.integration
def test_prefect_yaml_train_from_the_ui_and_deploy_on_promotion(
    prefect_server, tracking_uri, tmp_path, run_command
):
    api = httpx.Client(base_url=prefect_server, timeout=30)
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "MLCADENCE_TRACKING_URI": tracking_uri,
        "MLCADENCE_CACHE_DIR": str(tmp_path / "cache"),
    }
    created = api.post("/work_pools/", json={"name": POOL, "type": "process"})
    assert created.status_code in (201, 409), created.text  # 409: made by an earlier test

    # By name: `--all` would also make the Docker pool's (test_docker_pool_e2e.py).
    names = [arg for name in DEPLOYMENTS for arg in ("-n", name)]
    deployed = run_command(
        [*prefect_cli(), "--no-prompt", "deploy", *names], env=env, cwd=REPO_ROOT
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    ids = {}
    for name, flow_name in DEPLOYMENTS.items():
        response = api.get(f"/deployments/name/{flow_name}/{name}")
        assert response.status_code == 200, f"{flow_name}/{name} was not deployed"
        ids[name] = response.json()["id"]
    try:
        retrain = api.get(f"/deployments/{ids['retrain']}").json()
        assert [s["schedule"]["cron"] for s in retrain["schedules"]] == ["0 6 * * *"]

        # The UI's Run button: POST create_flow_run with the form's parameters.
        rejected = api.post(
            f"/deployments/{ids['train']}/create_flow_run", json={"parameters": {"window": 0}}
        )
        assert rejected.status_code == 409 and "window" in rejected.text
        run = api.post(
            f"/deployments/{ids['train']}/create_flow_run",
            json={"parameters": {"source": "synthetic:11", "register_as": "e2e", "window": 10}},
        )
        assert run.status_code == 201, run.text
        flow_run_id = run.json()["id"]

        worker = run_command(
            [*prefect_cli(), "worker", "start", "--pool", POOL, "--run-once"], env=env, cwd=tmp_path
        )
        assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
        state = api.get(f"/flow_runs/{flow_run_id}").json()["state"]
        assert state["type"] == "COMPLETED", state

        from mlcadence import tracking

        client = tracking.Client(tracking_uri)
        (tracked,) = client.search_runs([client.get_experiment_by_name("stockpred").experiment_id])
        assert tracked.info.status == RunStatus.FINISHED
        assert tracked.data.params["window"] == "10"
        assert tracked.data.tags["mlcadence.prefect.deployment"] == "train"
        assert tracked.data.tags["mlcadence.prefect.flow_run_id"] == flow_run_id
        version = client.get_model_version("e2e", 1)
        assert "champion" in version.aliases

        # The promotion event fired the deploy deployment's trigger.
        def deploy_runs():
            found = api.post(
                "/flow_runs/filter",
                json={"deployments": {"id": {"any_": [ids["deploy"]]}}, "limit": 10},
            ).json()
            return [r for r in found if r["parameters"].get("model_uri") == "models:/e2e@champion"]

        triggered = wait_for(deploy_runs, timeout=120)
        assert triggered, "no deploy flow run was created by the promotion event"
        assert str(triggered[0]["parameters"]["version"]) == "1"
    finally:
        # Leave the shared server as we found it: no deployments (and so no
        # automations or queued runs) that later tests' workers could pick up.
        for deployment_id in ids.values():
            for flow_run in _retrying(
                api.post,
                "/flow_runs/filter",
                json={"deployments": {"id": {"any_": [deployment_id]}}},
            ).json():
                _retrying(api.delete, f"/flow_runs/{flow_run['id']}")
            _retrying(api.delete, f"/automations/owned-by/prefect.deployment.{deployment_id}")
            _retrying(api.delete, f"/deployments/{deployment_id}")


def _retrying(call, *args, attempts: int = 5, **kwargs):
    """A cleanup request to the shared Prefect server, retried when a busy
    server drops the kept-alive connection (it answers again a moment later)."""
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
            time.sleep(1.0)
