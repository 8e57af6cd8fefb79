"""prefect.yaml's Docker work pool, end to end, all real: the session's Prefect
server, our tracking server on the host (sqlite behind it, token auth on),
`prefect deploy -n train-docker` building the stockpred environment image, a
`prefect worker start --type docker` process running the flow run in a
container, and the promotion event triggering the `deploy` deployment on a
process worker, whose model server then answers POST /invocations.

Needs a running Docker engine and the base image (scripts/docker-base-image.sh).
The image is tagged by content: a second run of an unchanged checkout builds
nothing (MLCADENCE_TEST_DOCKER_CACHE keeps the wheels across sessions too)."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from mlcadence.flows import serve
from mlcadence.flows.docker_pool import token_secret_name
from mlcadence.tracking.entities import RunStatus
from tests.docker_fixtures import docker, shared_cache  # noqa: F401
from tests.flows.test_prefect_yaml_e2e import REPO_ROOT, _retrying, prefect_cli, wait_for
from tests.flows.test_promotion_redeploys import (
    free_port,
    local_deployments,
    stop_local_deployments,
)
from tests.serving.flagship import BOOK_ROW
from tests.tracking.server_fixtures import tracking_server  # noqa: F401

pytestmark = [pytest.mark.docker, pytest.mark.integration]

DOCKER_POOL = "mlcadence-docker-pool"  # prefect.yaml's name for it


@pytest.fixture(scope="module")
def docker_pool(prefect_server):
    """The Docker work pool, made as a user makes it (the CLI fills in
    prefect-docker's base job template)."""
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    made = subprocess.run(
        [*prefect_cli(), "work-pool", "create", DOCKER_POOL, "--type", "docker", "--overwrite"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    yield DOCKER_POOL
    _retrying(httpx.delete, f"{prefect_server}/work_pools/{DOCKER_POOL}", timeout=30)


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_sqlite_store_is_refused_by_prefect_deploy_before_anything_is_made(
    prefect_server, docker_pool, tmp_path, run_command
):
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "MLCADENCE_TRACKING_URI": f"sqlite:///{tmp_path / 'runs.db'}",
        "MLCADENCE_CACHE_DIR": str(tmp_path / "cache"),
    }
    deployed = run_command(
        [*prefect_cli(), "--no-prompt", "deploy", "-n", "train-docker"], env=env, cwd=REPO_ROOT
    )
    output = deployed.stdout + deployed.stderr
    assert deployed.returncode != 0, output
    assert "MLCADENCE_TRACKING_URI=sqlite:///" in output and "`mlcadence server" in output
    # Refused before anything was made: no deployment, no wheel, no image.
    found = httpx.get(f"{prefect_server}/deployments/name/training/train-docker", timeout=30)
    assert found.status_code == 404
    assert not (tmp_path / "cache").exists()


def test_train_runs_in_a_docker_worker_container_logs_to_the_host_server_and_is_deployed(
    prefect_server,
    docker_pool,
    docker,  # noqa: F811
    shared_cache,  # noqa: F811
    tracking_server,  # noqa: F811
    tmp_path,
    run_command,
    monkeypatch,
):
    from mlcadence.settings import reload_settings

    api = httpx.Client(base_url=prefect_server, timeout=30)
    token = "w-" + secrets.token_hex(8)
    monkeypatch.setenv("MLCADENCE_TRACKING_TOKEN", token)  # for this test's own client
    reload_settings()
    (tmp_path / "tokens").write_text(f"{token} write\n")
    server = tracking_server(
        f"sqlite:///{tmp_path / 'served.db'}", "--tokens-file", str(tmp_path / "tokens")
    )
    name = f"dockerpool{secrets.token_hex(3)}"
    process_pool = f"mlcadence-dp-{secrets.token_hex(3)}"
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "MLCADENCE_TRACKING_URI": server.url,
        "MLCADENCE_STATE_DIR": str(tmp_path / "state"),
        "MLCADENCE_CACHE_DIR": str(shared_cache),
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    ids: dict[str, str] = {}
    workers: list[subprocess.Popen] = []
    flow_run_id = None
    try:
        t0 = time.monotonic()
        # 1. Deploy from prefect.yaml: the build step builds (or reuses) the image.
        deployed = run_command(
            [*prefect_cli(), "--no-prompt", "deploy", "-n", "train-docker"],
            env=env,
            cwd=REPO_ROOT,
            timeout=1200,
        )
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        train = api.get("/deployments/name/training/train-docker").json()
        ids["train-docker"] = train["id"]
        variables = train["job_variables"]
        assert re.fullmatch(r"stockpred-env:[0-9a-f]{12}", variables["image"]), variables
        assert variables["network_mode"] == "host"
        assert variables["env"]["MLCADENCE_TRACKING_URI"] == server.url
        # The token is in a Secret block, not in what the deployment shows.
        assert token not in json.dumps(train)
        secret = token_secret_name(server.url)
        assert (
            variables["env"]["MLCADENCE_TRACKING_TOKEN"]
            == f"{{{{ prefect.blocks.secret.{secret} }}}}"
        )
        assert docker.images.get(variables["image"])  # built here, never pulled

        # The promotion event's deploy runs on the host (a model server outlives
        # its flow run; a container's would not), as in the process pool.
        assert api.post("/work_pools/", json={"name": process_pool, "type": "process"}).is_success
        (entry,) = [e for e in serve.read_deployments() if e["name"] == "deploy"]
        deploy = serve.to_deployment({**entry, "parameters": {"port": port}})
        ids["deploy"] = str(deploy.apply(work_pool_name=process_pool))

        print(f"[{time.monotonic() - t0:.0f}s] deployed")
        # 2. A run from the API (the UI's Run button), taken by a Docker worker.
        run = api.post(
            f"/deployments/{ids['train-docker']}/create_flow_run",
            json={"parameters": {"source": "synthetic:11", "register_as": name}},
        )
        assert run.status_code == 201, run.text
        flow_run_id = run.json()["id"]
        workers.append(
            start(
                [*prefect_cli(), "worker", "start", "--pool", DOCKER_POOL, "--type", "docker"],
                env,
                tmp_path / "docker-worker.log",
            )
        )
        workers.append(
            start(
                [*prefect_cli(), "worker", "start", "--pool", process_pool],
                env,
                tmp_path / "process-worker.log",
            )
        )

        def finished():
            state = api.get(f"/flow_runs/{flow_run_id}").json()["state"]
            return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED") else None

        state = wait_for(finished, timeout=600, interval=2)
        logs = (tmp_path / "docker-worker.log").read_text(errors="replace")
        assert state and state["type"] == "COMPLETED", (state, logs[-4000:])

        print(f"[{time.monotonic() - t0:.0f}s] flow run {state['type']}")
        # It ran in a container: the Docker worker recorded the container, and
        # the run's source is the image's interpreter, not this machine's.
        flow_run = api.get(f"/flow_runs/{flow_run_id}").json()
        assert re.search(r":[0-9a-f]{64}$", flow_run["infrastructure_pid"] or ""), flow_run

        from mlcadence import tracking

        client = tracking.Client(server.url)
        (tracked,) = client.search_runs([client.get_experiment_by_name("stockpred").experiment_id])
        assert tracked.info.status == RunStatus.FINISHED
        assert tracked.data.tags["mlflow.source.name"].startswith("/opt/venv/")
        assert tracked.data.tags["mlcadence.prefect.flow_run_id"] == flow_run_id
        assert tracked.data.tags["mlcadence.prefect.deployment"] == "train-docker"
        version = client.get_model_version(name, 1)
        assert version.source == f"runs:/{tracked.info.run_id}/model"
        assert "champion" in version.aliases

        # 3. The promotion event triggered `deploy`; the model server answers.
        def serving():
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/invocations", json={"data": [BOOK_ROW]}, timeout=5
                )
            except httpx.HTTPError:
                return None
            return answer if answer.status_code == 200 else None

        answer = wait_for(serving, timeout=300, interval=2)
        assert answer is not None, (tmp_path / "process-worker.log").read_text()[-4000:]
        print(f"[{time.monotonic() - t0:.0f}s] served")
        assert answer.json()["predictions"][0] in (0, 1)
        (deployment,) = local_deployments(tmp_path / "state")
        assert str(deployment.version) == "1"
    finally:
        for worker in workers:
            stop_process(worker)
        stop_local_deployments(tmp_path / "state")
        if flow_run_id is not None:
            for container in docker.containers.list(
                all=True, filters={"label": f"io.prefect.flow-run-id={flow_run_id}"}
            ):
                container.remove(force=True)
        for deployment_id in ids.values():
            for flow_run in _retrying(
                api.post,
                "/flow_runs/filter",
                json={"deployments": {"id": {"any_": [deployment_id]}}},
            ).json():
                _retrying(api.delete, f"/flow_runs/{flow_run['id']}")
            _retrying(api.delete, f"/automations/owned-by/prefect.deployment.{deployment_id}")
            _retrying(api.delete, f"/deployments/{deployment_id}")
        _retrying(api.delete, f"/work_pools/{process_pool}")
