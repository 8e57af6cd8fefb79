"""The optional LoggedModelStore (MLflow 3's logged models) on every
backend: persisted, and in the file store readable by MLflow itself."""

from __future__ import annotations

import pytest

from mlcadence.tracking import Client
from mlcadence.tracking.backends import build_backend
from mlcadence.tracking.backends.base import LoggedModelStore
from mlcadence.tracking.errors import InvalidState, NotFound


def test_logged_models_persist_and_follow_their_lifecycle(backend_uri):
    client = Client(backend_uri)
    store = client.backend
    assert isinstance(store, LoggedModelStore)
    exp_id = client.create_experiment("lm")
    run_id = client.create_run(exp_id).run_id
    model = store.create_logged_model(
        exp_id, "model", run_id, tags={"t": "1"}, params={"alpha": "0.5"}, model_type="sk"
    )
    assert model.model_id.startswith("m-") and model.status == "LOGGED_MODEL_PENDING"
    assert model.artifact_location.endswith(f"/{exp_id}/models/{model.model_id}/artifacts")

    store.finalize_logged_model(model.model_id, "LOGGED_MODEL_READY")
    store.set_logged_model_tags(model.model_id, {"u": "2"})
    store.delete_logged_model_tag(model.model_id, "t")
    store.log_logged_model_params(model.model_id, {"beta": "1"})
    other = store.create_logged_model(exp_id, "other")

    reopened = build_backend(backend_uri)  # a new process would see the same
    got = reopened.get_logged_model(model.model_id)
    assert (got.status, got.tags, got.params) == (
        "LOGGED_MODEL_READY",
        {"u": "2"},
        {"alpha": "0.5", "beta": "1"},
    )
    assert (got.source_run_id, got.model_type, got.name) == (run_id, "sk", "model")
    assert [m.model_id for m in reopened.list_logged_models([exp_id])] == [
        other.model_id,
        model.model_id,
    ]

    reopened.delete_logged_model(other.model_id)
    assert [m.model_id for m in store.list_logged_models([exp_id])] == [model.model_id]
    with pytest.raises(NotFound):
        store.get_logged_model(other.model_id)
    assert store.get_logged_model(other.model_id, allow_deleted=True).lifecycle_stage == "deleted"
    with pytest.raises(NotFound):
        store.delete_logged_model_tag(model.model_id, "absent")
    client.delete_experiment(exp_id)
    with pytest.raises(InvalidState):
        store.create_logged_model(exp_id, "late")
    reopened.close()


def test_mlflow_reads_logged_models_of_our_file_store(tmp_path, isolated_mlflow):
    from mlflow.store.tracking.file_store import FileStore

    root = tmp_path / "mlruns"
    client = Client(str(root))
    exp_id = client.create_experiment("lm")
    run_id = client.create_run(exp_id).run_id
    store = client.backend
    model = store.create_logged_model(exp_id, "model", run_id, tags={"t": "1"})
    store.finalize_logged_model(model.model_id, "LOGGED_MODEL_READY")

    theirs = FileStore(str(root)).get_logged_model(model.model_id)
    assert theirs.source_run_id == run_id
    assert str(theirs.status).endswith("READY")
    assert theirs.tags == {"t": "1"}
    assert theirs.artifact_location == model.artifact_location
