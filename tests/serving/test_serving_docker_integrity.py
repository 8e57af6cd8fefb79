"""The docker deploy target keeps the registry's protection: the model is
verified on the host (the copy that goes into the image, against the digest
pinned at registration), and the pin travels into the image's one-version
registry, so the container verifies again before it unpickles anything."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlcadence.serving.docker_image import verified_copy, write_registry
from mlcadence.serving.errors import DeployError
from mlcadence.tracking import Client
from mlcadence.tracking.conventions import MANIFEST_DIGEST_TAG
from mlcadence.tracking.errors import ModelIntegrityError
from mlcadence.tracking.models import load_model, log_model, save_model
from mlcadence.tracking.models.loading import registry_pin


def _fit(flip: bool):
    X = np.random.RandomState(0).rand(40, 3)
    y = (X[:, 0] > 0.5).astype(int)
    return LogisticRegression().fit(X, 1 - y if flip else y), X


@pytest.fixture
def registered(tmp_path):
    """models:/m/1 in a file store, and a self-consistent other model."""
    client = Client(str(tmp_path / "mlruns"))
    run = client.create_run(client.create_experiment("deploys"))
    model, X = _fit(flip=False)
    info = log_model(
        model,
        "model",
        input_example=X[:2],
        run_id=run.info.run_id,
        client=client,
        registered_model_name="m",
    )
    other, _ = _fit(flip=True)
    save_model(other, tmp_path / "other", input_example=X[:2])
    return client, info, tmp_path / "other"


def _rewrite(model_dir, replacement):
    shutil.rmtree(model_dir)
    shutil.copytree(replacement, model_dir)


def test_a_model_rewritten_after_registration_is_refused_before_any_build(registered, tmp_path):
    client, info, other = registered
    pin = registry_pin(client.get_model_version("m", 1))
    _rewrite(info.local_path, other)  # consistent with its own manifest, not with the pin
    with pytest.raises(DeployError, match="failed verification on this host"):
        verified_copy(info.local_path, tmp_path / "ctx" / "model", "models:/m/1", pin)


def test_the_image_registry_carries_the_pin_and_refuses_a_swapped_model(registered, tmp_path):
    client, info, other = registered
    pin = registry_pin(client.get_model_version("m", 1))
    image_model = tmp_path / "image" / "model"
    carried = verified_copy(info.local_path, image_model, "models:/m/1", pin)
    assert carried == pin
    registry = tmp_path / "image" / "registry"
    write_registry(registry, "m", 3, str(image_model), carried)
    in_image = Client(str(registry))
    assert in_image.get_model_version("m", 3).tags[MANIFEST_DIGEST_TAG] == pin
    load_model("models:/m/3", in_image)  # what the container loads verifies
    _rewrite(image_model, other)
    with pytest.raises(ModelIntegrityError):
        load_model("models:/m/3", in_image)


@pytest.mark.docker
@pytest.mark.integration
def test_docker_deploy_of_a_tampered_version_fails_and_starts_nothing(
    docker, cache_env, registered
):
    from mlcadence.serving.docker_target import DockerTarget, free_port

    client, info, other = registered
    _rewrite(info.local_path, other)
    target = DockerTarget(cache_dir=cache_env / "docker")
    before = {c.id for c in docker.containers.list(all=True)}
    with pytest.raises(DeployError, match="failed verification"):
        target.deploy("models:/m/1", port=free_port(), tracking_uri=client.tracking_uri)
    assert {c.id for c in docker.containers.list(all=True)} == before
