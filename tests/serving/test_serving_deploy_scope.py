"""Local deployments of an alias follow it, and belong to their tracking
store: real server processes, real registries, no Prefect."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from mlcadence.pipeline import promotion
from mlcadence.serving.deploy import current_store, deploy_model
from mlcadence.serving.errors import DeployError
from mlcadence.serving.local_target import LocalTarget
from tests.serving.test_serving_deploy import free_port, served_version

pytestmark = pytest.mark.integration
# Registry polls every half second, so following the alias takes no time.
FAST_RELOAD = ["--reload-interval", "0.5"]


def make_store(path, train_forest, versions: int = 2) -> str:
    """A file store with `versions` versions of `m`, version 1 the champion."""
    from mlcadence.tracking import Client
    from mlcadence.tracking.models import save_model
    from mlcadence.tracking.registry import register_model

    store = str(path / "mlruns")
    client = Client(store)
    for seed in range(versions):
        est, X = train_forest(seed=seed, n_estimators=5)
        save_model(est, str(path / f"m{seed}"), input_example=X.head(2))
        register_model(str(path / f"m{seed}"), "m", client=client)
    promotion.promote(client, "m", 1, reason="first")
    return store


@pytest.fixture
def local(tmp_path, monkeypatch):
    """A fresh deployment state dir; whatever the test deployed is stopped."""
    from mlcadence.settings import reload_settings

    monkeypatch.setenv("MLCADENCE_STATE_DIR", str(tmp_path / "state"))
    reload_settings()
    target = LocalTarget()
    try:
        yield target
    finally:
        for record in target.list():
            if record.status == "running":
                target.stop(record.name, record.store)
        monkeypatch.undo()
        reload_settings()


def test_redeploying_a_followed_alias_keeps_the_process_and_serves_the_new_champion(
    tmp_path, train_forest, local, monkeypatch
):
    from mlcadence.tracking import Client

    store = make_store(tmp_path, train_forest)
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", store)
    client = Client(store)
    port = free_port()
    first = deploy_model("m", alias="champion", port=port, server_args=FAST_RELOAD)
    assert first.model_uri == "models:/m@champion" and first.version == "1"

    promotion.promote(client, "m", 2, reason="next")
    second = deploy_model("m", alias="champion", port=port, server_args=FAST_RELOAD)
    assert (second.handle, second.version) == (first.handle, "2")
    assert served_version(port) == "2"
    assert client.get_model_version("m", 2).tags["endpoint"] == first.endpoint

    promotion.rollback(client, "m")
    back = deploy_model("m", alias="champion", port=port, server_args=FAST_RELOAD)
    assert (back.handle, back.version, served_version(port)) == (first.handle, "1", "1")
    assert [(r.version, r.handle) for r in local.list()] == [("1", first.handle)]

    # other server options are a different deployment: the process is replaced
    replaced = deploy_model(
        "m", alias="champion", port=port, server_args=["--reload-interval", "1"]
    )
    assert replaced.handle != first.handle and served_version(port) == "1"


def test_a_deploy_never_replaces_or_shares_a_port_with_another_stores_deployment(
    tmp_path, train_forest, local, monkeypatch
):
    store_a = make_store(tmp_path / "a", train_forest, versions=1)
    store_b = make_store(tmp_path / "b", train_forest, versions=1)
    port_a, port_b = free_port(), free_port()
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", store_a)
    in_a = deploy_model("m", version=1, port=port_a)
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", store_b)
    with pytest.raises(DeployError, match=f"Port {port_a} is served .* another tracking store"):
        deploy_model("m", version=1, port=port_a)
    in_b = deploy_model("m", version=1, port=port_b)  # same deployment name, other store

    assert in_a.store == current_store(store_a) != in_b.store == current_store(store_b)
    assert {(r.store, r.handle, r.status) for r in local.list()} == {
        (in_a.store, in_a.handle, "running"),
        (in_b.store, in_b.handle, "running"),
    }
    assert [r.handle for r in local.list(in_b.store)] == [in_b.handle]
    assert served_version(port_a) == served_version(port_b) == "1"

    # From store B, store A's deployment is stopped only when asked for all stores.
    from mlcadence.cli import app

    runner = CliRunner()
    refused = runner.invoke(app, ["deployments", "stop", str(port_a)])
    assert "of this tracking store" in str(refused.exception)
    stopped = runner.invoke(app, ["deployments", "stop", str(port_a), "--all-stores"])
    assert stopped.output == f"stopped m (port {port_a})\n"
    assert [r.store for r in local.list()] == [in_b.store]


def test_deployments_list_shows_this_stores_deployments_with_version_endpoint_and_health(
    tmp_path, train_forest, local, monkeypatch
):
    from mlcadence.cli import app

    store = make_store(tmp_path, train_forest, versions=1)
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", store)
    record = deploy_model("m", alias="champion", port=free_port())
    runner = CliRunner()
    table = runner.invoke(app, ["deployments", "list", "--target", "local"])
    assert table.exit_code == 0, table.output
    header, row = table.output.splitlines()
    assert header.split() == ["TARGET", "NAME", "MODEL", "VERSION", "ENDPOINT", "HEALTH", "SINCE"]
    assert row.split()[:7] == [
        "local", "m", "models:/m@champion", "1", record.endpoint, "ok", "v1",
    ]  # fmt: skip
    listed = json.loads(runner.invoke(app, ["deployments", "list", "--json"]).output)
    assert [(d["name"], d["health"], d["store"]) for d in listed] == [("m", "ok v1", record.store)]
    elsewhere = runner.invoke(
        app, ["deployments", "list", "--target", "local", "-t", str(tmp_path / "other")]
    )
    assert elsewhere.output == "no deployments of this tracking store\n"
    local.stop("m")
    with pytest.raises(httpx.HTTPError):
        httpx.get(record.health_url, timeout=5)
