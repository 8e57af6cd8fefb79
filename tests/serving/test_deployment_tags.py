"""The model version tags a deploy writes and a stop marks, on a real file
store: what the UI's Deployments page reads to tell live from stopped."""

from __future__ import annotations

from mlcadence import tracking
from mlcadence.serving.deploy import DeploymentRecord, record_deployment, record_stop
from mlcadence.tracking.conventions import (
    DEPLOYMENT_ENDPOINT_TAG,
    DEPLOYMENT_STOPPED_AT_TAG,
    DEPLOYMENT_TARGET_TAG,
)


def registry(tmp_path) -> tracking.Client:
    client = tracking.Client(str(tmp_path / "mlruns"))
    client.create_registered_model("m")
    client.create_model_version("m", "file:///nowhere/model")
    return client


def record(endpoint: str = "http://127.0.0.1:5001/invocations") -> DeploymentRecord:
    # As the local target lists it: the model's name only in its URI.
    return DeploymentRecord(
        name="m",
        target="local",
        model_uri="models:/m@champion",
        port=5001,
        endpoint=endpoint,
        version="1",
    )


def test_a_stop_marks_the_version_and_a_redeploy_clears_the_mark(tmp_path):
    client = registry(tmp_path)
    deployed = record()
    deployed.model_name = "m"
    record_deployment(deployed, client)
    tags = client.get_model_version("m", 1).tags
    assert (
        tags[DEPLOYMENT_ENDPOINT_TAG] == deployed.endpoint
        and tags[DEPLOYMENT_TARGET_TAG] == "local"
    )
    assert record_stop(record(), client) is True
    assert client.get_model_version("m", 1).tags[DEPLOYMENT_STOPPED_AT_TAG].endswith("Z")
    record_deployment(deployed, client)
    assert DEPLOYMENT_STOPPED_AT_TAG not in client.get_model_version("m", 1).tags


def test_stopping_a_deployment_the_tags_no_longer_describe_marks_nothing(tmp_path):
    client = registry(tmp_path)
    current = record("http://127.0.0.1:6000/invocations")
    current.model_name = "m"
    record_deployment(current, client)  # the version was redeployed elsewhere since
    assert record_stop(record("http://127.0.0.1:5001/invocations"), client) is False
    assert DEPLOYMENT_STOPPED_AT_TAG not in client.get_model_version("m", 1).tags


def test_stopping_a_deployment_of_a_deleted_model_marks_nothing(tmp_path):
    client = registry(tmp_path)
    client.delete_registered_model("m")
    assert record_stop(record(), client) is False
