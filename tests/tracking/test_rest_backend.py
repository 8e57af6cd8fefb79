"""The http(s):// backend against live tracking servers (ours and the real
`mlflow server`): artifacts through the server, models logged, registered and
loaded over HTTP with their digests checked on the downloaded bytes, the
unreachable-server error, and the token kept out of every message."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlcadence import tracking
from mlcadence.tracking import Client
from mlcadence.tracking.backends import build_backend
from mlcadence.tracking.backends.rest import RestBackend
from mlcadence.tracking.backends.rest_http import RetryPolicy
from mlcadence.tracking.errors import InvalidInput, ModelIntegrityError, NotFound, TrackingError
from mlcadence.tracking.models import load_model, log_model
from tests.http_fixtures import free_port


@pytest.fixture
def client(live_tracking_uri):
    return Client(live_tracking_uri)


@pytest.fixture
def run_id(client):
    return client.create_run(client.create_experiment("arts")).info.run_id


def test_http_scheme_builds_the_rest_backend(live_tracking_uri):
    assert isinstance(Client(live_tracking_uri).backend, RestBackend)
    assert isinstance(build_backend("https://example.invalid"), RestBackend)


def test_artifacts_round_trip_through_the_server(client, run_id, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 4000)  # ~1 MB
    single = tmp_path / "single.csv"
    single.write_text("x,y\n1,2\n")

    assert client.log_text(run_id, "hello", "notes/hello.txt") == "notes/hello.txt"
    assert client.log_artifact(run_id, single, "data") == "data/single.csv"
    assert sorted(client.log_artifacts(run_id, src, "tree")) == ["tree/a.txt", "tree/sub/b.bin"]
    client.log_dict(run_id, {"k": [1, 2]}, "cfg.json")

    root = {(i.path, i.is_dir) for i in client.list_artifacts(run_id)}
    assert root == {("notes", True), ("data", True), ("tree", True), ("cfg.json", False)}
    tree = client.list_artifacts(run_id, "tree")
    assert [(i.path, i.is_dir) for i in tree] == [("tree/a.txt", False), ("tree/sub", True)]
    assert tree[0].file_size == 5
    # A file lists as itself, as in a local store; an absent path as nothing.
    assert [(i.path, i.file_size) for i in client.list_artifacts(run_id, "tree/a.txt")] == [
        ("tree/a.txt", 5)
    ]
    assert client.list_artifacts(run_id, "nope") == []

    copy = client.download_artifacts(run_id, "tree", tmp_path / "out")
    assert copy == tmp_path / "out" / "tree"
    assert (copy / "a.txt").read_text() == "alpha"
    assert (copy / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    whole = client.download_artifacts(run_id)
    assert (whole / "notes" / "hello.txt").read_text() == "hello"
    assert (whole / "cfg.json").read_text().startswith("{")
    one = client.download_artifacts(run_id, "data/single.csv")
    assert one.name == "single.csv" and one.read_text() == "x,y\n1,2\n"


def test_artifact_paths_are_checked_before_any_request(client, run_id, tmp_path):
    for bad in ("../x.txt", "/etc/x", "a/../../x"):
        with pytest.raises(InvalidInput):
            client.log_text(run_id, "x", bad)
    with pytest.raises(NotFound):
        client.download_artifacts(run_id, "never/logged.txt")
    with pytest.raises(InvalidInput, match="download_artifacts"):
        client.artifact_path(run_id)


def test_fluent_api_logs_params_metrics_and_artifacts_to_the_server(live_tracking_uri):
    tracking.set_tracking_uri(live_tracking_uri)
    with tracking.start_run() as run:
        tracking.log_param("alpha", 0.5)
        tracking.log_metrics({"loss": 0.25, "acc": 0.75}, step=3)
        tracking.log_text("report", "report.md")
    got = Client(live_tracking_uri).get_run(run.info.run_id)
    assert got.info.status.name == "FINISHED"
    assert (got.data.params, got.data.metrics) == ({"alpha": "0.5"}, {"loss": 0.25, "acc": 0.75})
    assert [i.path for i in Client(live_tracking_uri).list_artifacts(run.info.run_id)] == [
        "report.md"
    ]


def _fitted():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    return LogisticRegression().fit(X, [0, 1, 0, 1]), X


def test_model_logged_registered_and_loaded_over_http(client, run_id):
    model, X = _fitted()
    info = log_model(
        model, "model", run_id=run_id, registered_model_name="http-model", client=client
    )
    assert info.registered_version == 1 and info.local_path is None
    names = {i.path for i in client.list_artifacts(run_id, "model")}
    assert {"model/MLmodel", "model/mlcadence-manifest.json"} <= names
    mv = client.get_model_version("http-model", 1)
    assert mv.source == f"runs:/{run_id}/model" and mv.run_id == run_id
    assert "mlcadence.manifest_sha256" in mv.tags
    client.set_registered_model_alias("http-model", "champion", 1)
    loaded = load_model("models:/http-model@champion", client)
    assert loaded.verified
    assert list(loaded.predict(X)) == list(model.predict(X))
    with pytest.raises(TrackingError):
        log_model(model, "model", run_id=run_id, client=client)  # the path is taken


def test_a_model_changed_on_the_server_is_refused_before_unpickling(
    client, run_id, live_server, tmp_path
):
    model, _ = _fitted()
    log_model(model, "model", run_id=run_id, registered_model_name="tampered", client=client)
    # Replace the pickle on the server with one that would run code when loaded.
    marker = tmp_path / "unpickled"
    evil = pickle.dumps(_Boom(str(marker)))
    served = next(live_server.artifacts.rglob("model/model.pkl"))
    served.write_bytes(evil)
    with pytest.raises(ModelIntegrityError):
        load_model("models:/tampered/1", client)
    assert not marker.exists()


class _Boom:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_unreachable_server_is_a_clear_error_after_bounded_retries():
    url = f"http://127.0.0.1:{free_port()}"
    backend = RestBackend(url, retry=RetryPolicy(total_seconds=0.5))
    with pytest.raises(TrackingError) as err:
        backend.get_experiment("0")
    assert url in err.value.message and "MLCADENCE_TRACKING_URI" in err.value.message
    assert err.value.error_code == "TEMPORARILY_UNAVAILABLE"


def test_token_goes_in_the_header_and_nowhere_else(live_tracking_uri, monkeypatch, caplog):
    secret = "s3cr3t-token-value"
    monkeypatch.setenv("MLCADENCE_TRACKING_TOKEN", secret)
    from mlcadence.settings import reload_settings

    reload_settings()
    client = Client(live_tracking_uri)
    assert client.backend.http.client.headers["Authorization"] == f"Bearer {secret}"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NotFound) as err:
        client.get_run("0" * 32)
    texts = [repr(client.backend), repr(client.backend.http), err.value.message, caplog.text]
    assert not [t for t in texts if secret in t]


MLFLOW_LOGS_A_MODEL = """
import warnings; warnings.simplefilter("ignore")
import mlflow, numpy as np
from sklearn.linear_model import LogisticRegression
X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
with mlflow.start_run():
    mlflow.sklearn.log_model(LogisticRegression().fit(X, [0, 1, 0, 1]), name="model",
                             registered_model_name="from-mlflow")
"""


def test_a_model_mlflow_logged_to_the_server_loads_through_our_client(
    live_tracking_uri, run_python, tmp_path
):
    done = run_python(
        MLFLOW_LOGS_A_MODEL, MLFLOW_TRACKING_URI=live_tracking_uri, HOME=str(tmp_path), timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    client = Client(live_tracking_uri)
    assert client.get_model_version("from-mlflow", 1).source.startswith("models:/m-")
    client.set_registered_model_alias("from-mlflow", "champion", 1)
    with pytest.raises(ModelIntegrityError):  # MLflow writes no digest manifest
        load_model("models:/from-mlflow@champion", client)
    with pytest.warns(UserWarning, match="not verified"):
        loaded = load_model("models:/from-mlflow@champion", client, allow_unverified=True)
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert list(loaded.predict(X)) == [0, 1]
