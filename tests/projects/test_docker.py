"""Real Docker: a docker_env project run (image built from the project's
Dockerfile with a host wheelhouse, container logging into our store,
volumes and environment honoured), and the docker deploy target (real image,
POST /invocations from the host, blue/green swap under load with zero failed
requests, a failed start keeping the old container).

Needs a running Docker engine and the base image (scripts/docker-base-image.sh).
"""

from __future__ import annotations

import os
import secrets
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.integration]


def _docker_or_skip():
    try:
        from mlcadence.projects.environments.docker import docker_client

        client = docker_client()
    except Exception as exc:  # no engine: these tests cannot run here
        pytest.skip(f"no Docker engine: {exc}")
    from mlcadence.settings import get_settings

    base = get_settings().docker_base_image
    try:
        client.images.get(base)
    except Exception:
        pytest.skip(f"base image {base} missing: run scripts/docker-base-image.sh")
    return client


@pytest.fixture(scope="module")
def docker():
    return _docker_or_skip()


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One wheel cache for the module: wheels are made once, as in real use.
    MLCADENCE_TEST_DOCKER_CACHE keeps it across sessions (pip's own cache is
    kept across sessions too; this is the same idea one level up)."""
    keep = os.environ.get("MLCADENCE_TEST_DOCKER_CACHE")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return tmp_path_factory.mktemp("docker-cache")


@pytest.fixture
def cache_env(shared_cache, monkeypatch):
    monkeypatch.setenv("MLCADENCE_CACHE_DIR", str(shared_cache))
    from mlcadence.settings import reload_settings

    reload_settings()
    yield shared_cache
    monkeypatch.undo()
    reload_settings()


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


# ------------------------------------------------------------------ projects


def test_docker_project_run_logs_into_our_store(docker, cache_env, tmp_path, monkeypatch):
    from mlcadence.projects import runner
    from mlcadence.tracking import Client

    suffix = secrets.token_hex(4)
    base_tag = f"mlcadence-test-base-{suffix}:1"
    data = tmp_path / "data"
    data.mkdir()
    (data / "numbers.txt").write_text("1\n2\n3\n")
    monkeypatch.setenv("MLCADENCE_TEST_FROM_HOST", "host-value")
    project = write(
        tmp_path / "proj",
        {
            "MLproject": f"""
            name: dockertest-{suffix}
            docker_env:
              image: {base_tag}
              volumes: ["{data}:/data:ro"]
              environment: [["EXPLICIT", "given"], "MLCADENCE_TEST_FROM_HOST"]
            entry_points:
              main:
                parameters:
                  scale: {{type: float, default: 2}}
                command: "python train.py --scale {{scale}}"
        """,
            "Dockerfile": """
            ARG BASE_IMAGE=python:3.11-slim
            FROM ${BASE_IMAGE}
            COPY .wheelhouse/ /tmp/wheels/
            COPY own/ /tmp/own/
            RUN python3 -m venv /opt/venv \\
             && /opt/venv/bin/pip install -q --no-index --find-links /tmp/wheels \\
                    -r /tmp/wheels/requirements.txt \\
             && /opt/venv/bin/pip install -q --no-index --no-deps /tmp/own/mlcadence-*.whl \\
             && rm -rf /tmp/wheels /tmp/own
            ENV PATH=/opt/venv/bin:$PATH
        """,
            # Only what `tracking` needs at run time; our own wheel is shipped in own/
            # (listing `mlcadence` here would pull all of its dependencies).
            "requirements.txt": "pyyaml\npydantic-settings\nfilelock\n",
            "train.py": """
            import argparse, os, mlcadence
            a = argparse.ArgumentParser(); a.add_argument("--scale", type=float)
            scale = a.parse_args().scale
            total = sum(int(x) for x in open("/data/numbers.txt"))
            mlcadence.log_metric("total_scaled", total * scale)
            mlcadence.log_param("explicit", os.environ["EXPLICIT"])
            mlcadence.log_param("copied", os.environ["MLCADENCE_TEST_FROM_HOST"])
            mlcadence.log_text("from the container", "note.txt")
            print("cwd", os.getcwd(), "uri", os.environ["MLFLOW_TRACKING_URI"])
        """,
        },
    )
    from mlcadence.projects.wheelhouse import own_wheel

    (project / "own").mkdir()
    import shutil

    shutil.copy(own_wheel(cache_env), project / "own")
    store = str(tmp_path / "mlruns")
    lines: list[str] = []
    try:
        result = runner.run(
            str(project), parameters={"scale": "1.5"}, tracking_uri=store, output=lines.append
        )
        text = "".join(lines)
        assert result.status == "FINISHED", text
        assert "cwd /mlflow/projects/code uri file:///mlflow/tmp/mlruns" in text
        client = Client(store)
        run = client.get_run(result.run_id)
        assert run.info.status.name == "FINISHED"
        assert run.data.metrics == {"total_scaled": 9.0}
        assert run.data.params["explicit"] == "given"
        assert run.data.params["copied"] == "host-value"
        assert run.data.params["scale"] == "1.5"
        assert run.data.tags["mlflow.project.env"] == "docker"
        assert run.data.tags["mlflow.docker.image.id"].startswith("sha256:")
        assert (
            client.artifact_path(result.run_id) / "note.txt"
        ).read_text() == "from the container"
        # The container is removed afterwards.
        assert not docker.containers.list(
            all=True, filters={"label": f"mlcadence.run_id={result.run_id}"}
        )

        # A failing entry point: the exit code becomes the run status.
        with pytest.raises(Exception) as info:
            runner.run(str(project), entry_point="missing.py", tracking_uri=store)
        assert "missing.py" in str(info.value)
        (project / "boom.py").write_text("import sys; sys.exit(4)\n")
        from mlcadence.projects.errors import ExecutionFailed

        with pytest.raises(ExecutionFailed) as failed:
            runner.run(
                str(project),
                entry_point="boom.py",
                tracking_uri=store,
                build_image=True,
                output=lambda s: None,
            )
        assert failed.value.exit_code == 4
        assert client.get_run(failed.value.run_id).info.status.name == "FAILED"
    finally:
        # The project images were built on the base image: remove them first, or
        # the engine refuses to delete a parent that still has children.
        for prefix in (f"dockertest-{suffix}:", base_tag):
            for image in docker.images.list():
                if any(t.startswith(prefix) for t in image.tags):
                    docker.images.remove(image.id, force=True)


# ------------------------------------------------------------------ deploy


def _register(store: str, name: str, seed: int, flip: bool = False) -> int:
    from sklearn.linear_model import LogisticRegression

    from mlcadence import tracking
    from mlcadence.tracking.models import log_model

    tracking.set_tracking_uri(store)
    try:
        X = np.random.RandomState(seed).rand(60, 3)
        y = (X[:, 0] > 0.5).astype(int)
        if flip:
            y = 1 - y
        with tracking.start_run():
            info = log_model(
                LogisticRegression().fit(X, y),
                "model",
                input_example=X[:2],
                registered_model_name=name,
            )
        return info.registered_version
    finally:
        tracking.set_tracking_uri(None)


def test_docker_deploy_blue_green(docker, cache_env, tmp_path):
    import httpx

    from mlcadence.projects.docker_deploy import DockerTarget, free_port
    from mlcadence.serving.deploy import DEPLOY_TARGETS, get_target
    from mlcadence.serving.errors import DeployError, DeploymentNotFound
    from mlcadence.tracking import Client

    assert DEPLOY_TARGETS["docker"] == "mlcadence.projects.docker_deploy:DockerTarget"
    assert isinstance(get_target("docker"), DockerTarget)
    store = str(tmp_path / "mlruns")
    name = f"dtest{secrets.token_hex(3)}"
    target = DockerTarget(cache_dir=cache_env / "docker")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    body = {"inputs": [[0.9, 0.1, 0.1], [0.1, 0.2, 0.3]]}
    try:
        v1 = _register(store, name, 1)
        first = target.deploy(f"models:/{name}/{v1}", port=port, tracking_uri=store)
        assert first.endpoint == f"{endpoint}/invocations"
        assert first.details["image"] == f"{name}:{v1}" and first.version == str(v1)
        response = httpx.post(f"{endpoint}/invocations", json=body, timeout=10)
        assert response.status_code == 200
        assert response.json() == {"predictions": [1, 0]}
        mv = Client(store).get_model_version(name, v1)
        assert mv.tags["docker.container_id"] == first.handle
        assert mv.tags["docker.image_id"] == first.details["image_id"]
        assert mv.tags["endpoint"] == first.endpoint and mv.tags["target"] == "docker"

        # v2 predicts the opposite, so every answer says which version served it.
        v2 = _register(store, name, 1, flip=True)
        results = {"ok": 0, "failed": [], "v1": 0, "v2": 0}
        stop = threading.Event()

        def load():
            with httpx.Client(timeout=10) as http:
                while not stop.is_set():
                    try:
                        r = http.post(f"{endpoint}/invocations", json=body)
                        if r.status_code != 200:
                            results["failed"].append(r.status_code)
                            continue
                        results["ok"] += 1
                        results["v1" if r.json()["predictions"] == [1, 0] else "v2"] += 1
                    except httpx.HTTPError as exc:
                        results["failed"].append(repr(exc))

        loaders = [threading.Thread(target=load) for _ in range(2)]
        for t in loaders:
            t.start()
        try:
            second = target.deploy(f"models:/{name}/{v2}", port=port, tracking_uri=store)
            time.sleep(1.0)  # keep loading after the swap
        finally:
            stop.set()
            for t in loaders:
                t.join()
        assert results["failed"] == []
        assert results["v1"] > 0 and results["v2"] > 0
        assert httpx.get(f"{endpoint}/health").json()["model"]["version"] == str(v2)
        listed = [d for d in target.list() if d.name == name]
        assert [(d.version, d.handle) for d in listed] == [(str(v2), second.handle)]

        # A version that cannot start: the deploy fails and v2 keeps serving.
        v3 = _register(store, name, 3)
        pkl = Client(store).get_model_version(name, v3)
        from mlcadence.tracking.uris import resolve_model_uri

        model_dir = Path(resolve_model_uri(f"models:/{name}/{v3}", Client(store)).local_path)
        (model_dir / "model.pkl").write_bytes(b"not a pickle")
        assert pkl is not None
        with pytest.raises(DeployError, match="did not become healthy"):
            target.deploy(f"models:/{name}/{v3}", port=port, tracking_uri=store)
        assert httpx.get(f"{endpoint}/health").json()["model"]["version"] == str(v2)
        assert [d.version for d in target.list() if d.name == name] == [str(v2)]

        stopped = target.stop(port)
        assert stopped.handle == second.handle and stopped.status == "stopped"
        assert not [d for d in target.list() if d.name == name]
        with pytest.raises(DeploymentNotFound):
            target.stop(name)
    finally:
        for c in docker.containers.list(
            all=True, filters={"label": f"mlcadence.deploy.name={name}"}
        ):
            c.remove(force=True)
        for image in docker.images.list(name=name):
            docker.images.remove(image.id, force=True)
