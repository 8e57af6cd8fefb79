"""Real Docker: a model trained by an MLproject is served in the project's
Docker environment. The project's image carries a module the model needs at
predict time (a custom transformer); the deploy flow finds the project from
the model's run (as `mlcadence project run` records it), builds the image
from the project's Dockerfile, and serves; the slim image fails on the same
model. An alias deployment is replaced blue/green when the champion moves.

Needs a running Docker engine and the base image (scripts/docker-base-image.sh).
"""

from __future__ import annotations

import secrets
import textwrap
from importlib import metadata

import httpx
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.integration]

BODY = {"inputs": [[0.9, 0.1, 0.1], [0.1, 0.2, 0.3]]}

DOCKERFILE = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
COPY .wheelhouse/ /tmp/wheels/
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install -q --no-index --find-links /tmp/wheels \\
        -r /tmp/wheels/requirements.txt \\
 && rm -rf /tmp/wheels
# The project's own feature code: importable only in this environment.
COPY custom_features.py /opt/custom/
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/opt/custom
"""

CUSTOM_FEATURES = """\
from sklearn.base import BaseEstimator, TransformerMixin


class Doubler(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X * 2
"""

TRAIN = """\
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import mlcadence
from custom_features import Doubler
from mlcadence.tracking.models import log_model

name, flip = sys.argv[1], sys.argv[2] == "1"
X = np.random.RandomState(1).rand(60, 3)
y = (X[:, 0] > 0.5).astype(int)
if flip:
    y = 1 - y
with mlcadence.start_run():
    model = make_pipeline(Doubler(), LogisticRegression()).fit(X, y)
    log_model(model, "model", input_example=X[:2], registered_model_name=name)
"""


def write_project(root, suffix: str):
    root.mkdir()
    (root / "MLproject").write_text(
        textwrap.dedent(f"""\
        name: serve-env-{suffix}
        docker_env:
          image: mlcadence-test-env-{suffix}:1
        entry_points:
          main:
            parameters:
              name: string
              flip: {{type: string, default: "0"}}
            command: "python train.py {{name}} {{flip}}"
        """)
    )
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "requirements.txt").write_text(f"scikit-learn=={metadata.version('scikit-learn')}\n")
    (root / "custom_features.py").write_text(CUSTOM_FEATURES)
    (root / "train.py").write_text(TRAIN)
    return root


def test_a_project_model_is_served_in_the_projects_docker_environment(
    docker, cache_env, prefect_server, tmp_path, monkeypatch
):
    from mlcadence.flows.deployment import deploy
    from mlcadence.pipeline import promotion
    from mlcadence.pipeline.serving_environment import serving_environment
    from mlcadence.projects import runner
    from mlcadence.serving.docker_target import DockerTarget, free_port
    from mlcadence.serving.errors import DeployError
    from mlcadence.tracking import Client
    from mlcadence.tracking.registry import register_model
    from mlcadence.tracking.uris import resolve_model_uri

    suffix = secrets.token_hex(3)
    name = f"envmodel{suffix}"
    env_image = f"mlcadence-test-env-{suffix}:1"
    store = str(tmp_path / "mlruns")
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", store)
    project = write_project(tmp_path / "project", suffix)
    client = Client(store)
    port, slim_port = free_port(), free_port()
    images_before = {i.id for i in docker.images.list()}
    try:
        # Trained by the project (here with this Python; its run records the project).
        runner.run(str(project), parameters={"name": name}, env_manager="local", output=print)
        run = client.get_run(client.get_model_version(name, 1).run_id)
        assert run.data.tags["mlflow.source.type"] == "PROJECT"
        promotion.promote(client, name, 1, reason="first")

        # The deploy flow finds the project from the run and serves in its environment.
        record = deploy(model_uri=f"models:/{name}@champion", target="docker", port=port)
        assert record["version"] == "1" and record["details"]["environment"] == env_image
        served = httpx.post(f"http://127.0.0.1:{port}/invocations", json=BODY, timeout=30)
        assert served.status_code == 200, served.text
        assert served.json() == {"predictions": [1, 0]}
        # --project names the same environment
        assert serving_environment(client, f"models:/{name}/1", project) == env_image

        # The slim image has no custom_features: the same model cannot start there.
        with pytest.raises(DeployError, match="custom_features"):
            DockerTarget().deploy(f"models:/{name}/1", port=slim_port, tracking_uri=store)

        # A new champion: the alias deployment is replaced blue/green.
        runner.run(
            str(project), parameters={"name": name, "flip": "1"}, env_manager="local", output=print
        )
        promotion.promote(client, name, 2, reason="next")
        second = deploy(model_uri=f"models:/{name}@champion", target="docker", port=port)
        assert second["version"] == "2" and second["handle"] != record["handle"]
        flipped = httpx.post(f"http://127.0.0.1:{port}/invocations", json=BODY, timeout=30)
        assert flipped.json() == {"predictions": [0, 1]}
        listed = [d for d in DockerTarget().list(second["store"]) if d.name == name]
        assert [(d.version, d.handle) for d in listed] == [("2", second["handle"])]

        # Another store's model of the same name may not take this store's port.
        other = Client(str(tmp_path / "other"))
        register_model(
            str(resolve_model_uri(f"models:/{name}/2", client).local_path), name, client=other
        )
        with pytest.raises(DeployError, match=f"Port {port} is served .* another tracking store"):
            DockerTarget().deploy(f"models:/{name}/1", port=port, tracking_uri=other.tracking_uri)
        assert [d.handle for d in DockerTarget().list() if d.name == name] == [second["handle"]]
    finally:
        for c in docker.containers.list(
            all=True, filters={"label": f"mlcadence.deploy.name={name}"}
        ):
            c.remove(force=True)
        # Children before parents: server images (tagged or not: the slim
        # build took over the tag <name>:1), the serving layer added to the
        # environment, then the environment; all of them this test's alone.
        labelled = {"label": f"mlcadence.deploy.model.name={name}"}
        for image in docker.images.list(filters=labelled):
            docker.images.remove(image.id, force=True)
        for image in docker.images.list(name="mlcadence-serving-deps"):
            if image.id not in images_before and any("env-" in t for t in image.tags):
                docker.images.remove(image.id, force=True)
        if env_image in {t for i in docker.images.list() for t in i.tags}:
            docker.images.remove(env_image, force=True)
