"""The local deploy target and the deploy flow, with real processes, a real
registry and the session's real Prefect server."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from mlcadence.serving.errors import DeployError, DeploymentNotFound
from mlcadence.serving.local_target import LocalTarget
from tests.serving.serving_helpers import BOOK_ROW, train_forest

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def deploy_env(tmp_path_factory):
    """A registry with versions 1 and 2 of `stockpred` (champion = 1) and a
    broken version 3; the tracking store and state dir set for the module."""
    import os

    from mlcadence.settings import reload_settings
    from mlcadence.tracking import Client
    from mlcadence.tracking.models import save_model
    from mlcadence.tracking.registry import register_model
    from mlcadence.tracking.uris import resolve_model_uri

    root = tmp_path_factory.mktemp("deploy")
    saved = {k: os.environ.get(k) for k in ("MLCADENCE_TRACKING_URI", "MLCADENCE_STATE_DIR")}
    os.environ["MLCADENCE_TRACKING_URI"] = str(root / "mlruns")
    os.environ["MLCADENCE_STATE_DIR"] = str(root / "state")
    reload_settings()
    client = Client(str(root / "mlruns"))
    for seed in (0, 1, 2):
        est, X = train_forest(seed=seed, n_estimators=10)
        save_model(est, str(root / f"m{seed}"), input_example=X.head(2))
        register_model(str(root / f"m{seed}"), "stockpred", client=client)
    (resolve_model_uri("models:/stockpred/3").local_path / "model.pkl").write_bytes(b"broken")
    client.set_registered_model_alias("stockpred", "champion", 1)
    target = LocalTarget()
    try:
        yield client, target
    finally:
        for record in target.list():
            if record.status == "running":
                target.stop(record.name)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reload_settings()


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


def test_redeploy_on_the_same_port_replaces_only_after_healthy(deploy_env):
    from mlcadence.serving.deploy import deploy_model

    client, target = deploy_env
    old = next(r for r in target.list() if r.name == "stockpred")
    record = deploy_model("stockpred", version=2, port=old.port)
    assert record.handle != old.handle
    assert served_version(old.port) == "2"
    # the old process is gone, the new one is the only deployment
    deadline = time.monotonic() + 30
    while any(r.handle == old.handle and r.status == "running" for r in target.list()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert [(r.name, r.version) for r in target.list()] == [("stockpred", "2")]
    assert client.get_model_version("stockpred", 2).tags["target"] == "local"


def test_failed_health_check_keeps_the_old_deployment(deploy_env):
    from mlcadence.serving.deploy import deploy_model

    _, target = deploy_env
    current = target.list()[0]
    with pytest.raises(DeployError, match="previous deployment"):
        deploy_model("stockpred", version=3, port=current.port)
    assert served_version(current.port) == "2"
    assert [(r.handle, r.status) for r in target.list()] == [(current.handle, "running")]


def test_stop_and_list(deploy_env):
    _, target = deploy_env
    port = target.list()[0].port
    stopped = target.stop(str(port))
    assert stopped.name == "stockpred"
    assert target.list() == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/ping", timeout=5)
    with pytest.raises(DeploymentNotFound):
        target.stop("stockpred")
