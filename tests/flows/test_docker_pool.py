"""The Docker work pool's build step: a store the containers cannot see is
refused before Docker is touched, the containers get the URI and a reference
to the token's Secret block (on the session's Prefect server), and the
environment image is keyed by its content."""

from __future__ import annotations

import shutil

import pytest

from mlcadence.containers.reachable_store import StoreNotReachable, require_network_store
from mlcadence.flows import docker_pool
from mlcadence.settings import reload_settings
from tests.docker_fixtures import docker  # noqa: F401


@pytest.mark.parametrize(
    "uri", ["./mlruns", "/srv/mlruns", "file:///srv/mlruns", "sqlite:///runs.db"]
)
def test_a_file_or_sqlite_store_is_refused_before_docker_is_touched(uri, monkeypatch):
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", uri)
    # Any Docker call would fail differently (EngineUnavailable): the refusal comes first.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    reload_settings()
    with pytest.raises(StoreNotReachable) as refused:
        docker_pool.flow_image()
    message = str(refused.value)
    assert "MLCADENCE_TRACKING_URI=" in message and "`mlcadence server" in message
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:5050", "https://mlc.example.com", "postgresql://u@db/mlc"]
)
def test_a_server_or_database_is_reachable_from_a_container(uri):
    assert require_network_store(uri) == uri


def test_containers_get_the_token_as_a_secret_block_reference_never_its_value(
    monkeypatch, prefect_server
):
    from prefect.blocks.system import Secret

    monkeypatch.setenv("MLCADENCE_TRACKING_TOKEN", "w-secret")
    reload_settings()
    env = docker_pool.container_environment("http://127.0.0.1:5050")
    assert env["MLCADENCE_TRACKING_URI"] == "http://127.0.0.1:5050"
    name = docker_pool.token_secret_name("http://127.0.0.1:5050")
    reference = "{{ prefect.blocks.secret." + name + " }}"
    assert env["MLCADENCE_TRACKING_TOKEN"] == env["MLFLOW_TRACKING_TOKEN"] == reference
    assert "w-secret" not in str(env)
    assert Secret.load(name, _sync=True).get() == "w-secret"


def test_each_tracking_server_keeps_its_own_token_secret():
    one = docker_pool.token_secret_name("http://a:5050")
    assert one != docker_pool.token_secret_name("http://b:5050")
    assert one == docker_pool.token_secret_name("http://a:5050")


def test_no_token_variable_is_set_without_a_token():
    env = docker_pool.container_environment("http://127.0.0.1:5050")
    assert "MLCADENCE_TRACKING_TOKEN" not in env and "MLFLOW_TRACKING_TOKEN" not in env


@pytest.mark.docker
def test_the_environment_image_tag_follows_the_project_content(docker, tmp_path):  # noqa: F811
    from mlcadence.projects.environments.docker import _environment_key
    from mlcadence.projects.spec import load_project

    copy = tmp_path / "stockpred"
    shutil.copytree(docker_pool.STOCKPRED, copy)
    same = _environment_key(docker, load_project(copy))
    assert same == _environment_key(docker, load_project(docker_pool.STOCKPRED))
    (copy / "train.py").write_text((copy / "train.py").read_text() + "\n# changed\n")
    assert _environment_key(docker, load_project(copy)) != same
    (copy / "train.py").unlink()
    shutil.copy(docker_pool.STOCKPRED / "train.py", copy / "train.py")
    (copy / "requirements.txt").write_text(
        (copy / "requirements.txt").read_text() + "\nsix==1.16.0\n"
    )
    assert _environment_key(docker, load_project(copy)) != same
