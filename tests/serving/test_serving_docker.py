"""Real Docker: the docker deploy target (real image, POST /invocations from
the host, blue/green swap under load with zero failed requests, a failed
start keeping the old container).

Needs a running Docker engine and the base image (scripts/docker-base-image.sh).
"""

from __future__ import annotations

import secrets
import threading
import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

pytestmark = [pytest.mark.docker, pytest.mark.integration]


class OnlyOnTheHost(LogisticRegression):
    """Pickled by reference to this test module, which the image does not
    have: a model that verifies on the host but cannot load in a container."""


def _register(
    store: str, name: str, seed: int, flip: bool = False, estimator=LogisticRegression
) -> int:
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
                estimator().fit(X, y),
                "model",
                input_example=X[:2],
                registered_model_name=name,
            )
        return info.registered_version
    finally:
        tracking.set_tracking_uri(None)


def test_docker_deploy_blue_green(docker, cache_env, tmp_path):
    import httpx

    from mlcadence.serving.deploy import DEPLOY_TARGETS, get_target
    from mlcadence.serving.docker_target import DockerTarget, free_port
    from mlcadence.serving.errors import DeployError, DeploymentNotFound
    from mlcadence.tracking import Client

    assert DEPLOY_TARGETS["docker"] == "mlcadence.serving.docker_target:DockerTarget"
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
        v3 = _register(store, name, 3, estimator=OnlyOnTheHost)
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
