"""The local deploy target and the deploy flow, with real processes, a real
registry and the session's real Prefect server. Each test starts from no
deployment (and those that need one deploy version 1 first), so every test
passes on its own and in any order."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from mlcadence.serving.errors import DeployError, DeploymentNotFound
from mlcadence.serving.local_target import LocalTarget
from tests.serving.flagship import BOOK_ROW

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory, train_forest):
    """A store with versions 1 and 2 of `stockpred` (champion = 1) and a broken
    version 3. Read-only for the tests: they only deploy from it."""
    from mlcadence.tracking import Client
    from mlcadence.tracking.models import save_model
    from mlcadence.tracking.registry import register_model
    from mlcadence.tracking.uris import resolve_model_uri

    root = tmp_path_factory.mktemp("deploy")
    store = str(root / "mlruns")
    client = Client(store)
    for seed in (0, 1, 2):
        est, X = train_forest(seed=seed, n_estimators=10)
        save_model(est, str(root / f"m{seed}"), input_example=X.head(2))
        register_model(str(root / f"m{seed}"), "stockpred", client=client)
    model_dir = resolve_model_uri("models:/stockpred/3", client).local_path
    (model_dir / "model.pkl").write_bytes(b"broken")
    client.set_registered_model_alias("stockpred", "champion", 1)
    return store


@pytest.fixture
def deploy_env(registry, tmp_path, monkeypatch):
    """The registry's store and a fresh state dir for this test; whatever the
    test deployed is stopped afterwards."""
    from mlcadence.settings import reload_settings
    from mlcadence.tracking import Client

    monkeypatch.setenv("MLCADENCE_TRACKING_URI", registry)
    monkeypatch.setenv("MLCADENCE_STATE_DIR", str(tmp_path / "state"))
    reload_settings()
    target = LocalTarget()
    try:
        yield Client(registry), target
    finally:
        for record in target.list():
            if record.status == "running":
                target.stop(record.name)
        monkeypatch.undo()
        reload_settings()


@pytest.fixture
def deployed(deploy_env):
    """Version 1 of `stockpred` deployed on a free port."""
    from mlcadence.serving.deploy import deploy_model

    _, target = deploy_env
    record = deploy_model("stockpred", version=1, port=free_port())
    assert served_version(record.port) == "1"
    return record


def served_version(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["model"]["version"]


def test_deploy_flow_starts_checks_and_records(prefect_server, deploy_env):
    from mlcadence.flows.deployment import deploy

    client, target = deploy_env
    port = free_port()
    record = deploy(model_name="stockpred", alias="champion", target="local", port=port)
    assert record["version"] == "1" and record["port"] == port
    assert served_version(port) == "1"
    r = httpx.post(f"http://127.0.0.1:{port}/invocations", json={"data": [BOOK_ROW]}, timeout=30)
    assert r.status_code == 200
    tags = client.get_model_version("stockpred", 1).tags
    assert tags["endpoint"] == f"http://127.0.0.1:{port}/invocations"
    assert tags["target"] == "local" and tags["deployed_at"].endswith("Z")
    assert [d.name for d in target.list() if d.status == "running"] == ["stockpred"]


def test_redeploy_on_the_same_port_replaces_only_after_healthy(deploy_env, deployed):
    from mlcadence.serving.deploy import deploy_model

    client, target = deploy_env
    record = deploy_model("stockpred", version=2, port=deployed.port)
    assert record.handle != deployed.handle
    assert served_version(deployed.port) == "2"
    # the old process is gone, the new one is the only deployment
    deadline = time.monotonic() + 30
    while any(r.handle == deployed.handle and r.status == "running" for r in target.list()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert [(r.name, r.version) for r in target.list()] == [("stockpred", "2")]
    assert client.get_model_version("stockpred", 2).tags["target"] == "local"


def test_failed_health_check_keeps_the_old_deployment(deploy_env, deployed):
    from mlcadence.serving.deploy import deploy_model

    _, target = deploy_env
    with pytest.raises(DeployError, match="previous deployment"):
        deploy_model("stockpred", version=3, port=deployed.port)
    assert served_version(deployed.port) == "1"
    assert [(r.handle, r.status) for r in target.list()] == [(deployed.handle, "running")]


def test_stop_and_list(deploy_env, deployed):
    _, target = deploy_env
    stopped = target.stop(str(deployed.port))
    assert stopped.name == "stockpred"
    assert target.list() == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{deployed.port}/ping", timeout=5)
    with pytest.raises(DeploymentNotFound):
        target.stop("stockpred")
