"""Our models against the real `mlflow` package (dev extra), both ways:
MLflow loads what we save and log, we load what MLflow saves and registers,
and signatures are the same JSON text."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression

from mlcadence import tracking
from mlcadence.tracking import Client
from mlcadence.tracking.models import (
    UnverifiedModelWarning,
    infer_signature,
    load_model,
    log_model,
    save_model,
)
from mlcadence.tracking.uris import resolve_model_uri

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
# A hard import: the dev extra provides mlflow, and a missing package must fail, not skip.
import mlflow  # noqa: E402
import mlflow.models  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import mlflow.sklearn  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

# Explicit requirements skip MLflow's slow requirement inference (a subprocess).
NO_INFERENCE = ["scikit-learn"]

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*")


@pytest.fixture(scope="module")
def frame_data():
    rng = np.random.default_rng(7)
    X = pd.DataFrame(
        {
            "price": rng.normal(size=60),
            "volume": rng.integers(0, 100, size=60).astype(np.int64),
            "ratio": rng.normal(size=60).astype(np.float32),
        }
    )
    y = (X.price + X.ratio > 0).astype(int)
    return X, RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def array_data():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(25, 4))
    return X, LinearRegression().fit(X, X @ np.array([1.0, 2.0, -1.0, 0.5]))


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch):
    """A fresh MLflow tracking URI (file store) for one test, restored after."""
    # mlflow.set_experiment exports MLFLOW_EXPERIMENT_ID; monkeypatch undoes that.
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    old = mlflow.get_tracking_uri()
    uri = (tmp_path / "mlflow-store").as_uri()
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(old)
    # mlflow keeps the active experiment id in a module global; a stale id from
    # this temporary store would break later tests that use mlflow's fluent API.
    import mlflow.tracking.fluent as mlflow_fluent

    mlflow_fluent._active_experiment_id = None


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle", "skops"])
def test_mlflow_pyfunc_loads_our_dataframe_model(tmp_path, frame_data, fmt):
    X, model = frame_data
    trusted = ["sklearn.tree._tree.Tree"] if fmt == "skops" else None
    save_model(
        model,
        tmp_path / "m",
        input_example=X.head(3),
        serialization_format=fmt,
        skops_trusted_types=trusted,
    )
    ours = load_model(tmp_path / "m").predict(X)
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(X)
    np.testing.assert_array_equal(np.asarray(theirs), ours)
    np.testing.assert_array_equal(ours, model.predict(X))


def test_mlflow_pyfunc_loads_our_ndarray_model(tmp_path, array_data):
    X, model = array_data
    save_model(model, tmp_path / "m", input_example=X[:2])
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(X)
    np.testing.assert_allclose(theirs, load_model(tmp_path / "m").predict(X))


def test_mlflow_parses_our_mlmodel_and_signature(tmp_path, frame_data):
    X, model = frame_data
    save_model(model, tmp_path / "m", input_example=X.head(2), metadata={"k": "v"})
    parsed = mlflow.models.Model.load(str(tmp_path / "m"))
    ours = load_model(tmp_path / "m")
    assert parsed.signature.to_dict() == ours.signature.to_dict()
    assert parsed.signature.inputs.input_names() == ["price", "volume", "ratio"]
    assert parsed.flavors["sklearn"]["serialization_format"] == "cloudpickle"
    assert parsed.model_uuid == ours.model_uuid
    assert parsed.metadata == {"k": "v"}
    example = parsed.load_input_example(str(tmp_path / "m"))
    pd.testing.assert_frame_equal(example, X.head(2), check_dtype=False)


def test_mlflow_signature_for_the_same_data_is_the_same_text(frame_data, array_data):
    X, model = frame_data
    Xa, _ = array_data
    cases = [
        (X, model.predict(X)),
        (X, pd.Series(model.predict(X), name="label")),
        (X, list(model.predict(X))),
        (X.assign(missing=[None] + [1.5] * (len(X) - 1), text="t"), None),
        (Xa, None),
        (Xa.astype(np.float32), Xa[:, :2]),
        (pd.DataFrame(Xa), None),
    ]
    for data, y in cases:
        assert (
            infer_signature(data, y).to_dict() == mlflow.models.infer_signature(data, y).to_dict()
        )


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle", "skops"])
def test_we_load_models_mlflow_saved(tmp_path, frame_data, fmt):
    X, model = frame_data
    trusted = ["sklearn.tree._tree.Tree"] if fmt == "skops" else None
    mlflow.sklearn.save_model(
        model,
        str(tmp_path / "m"),
        serialization_format=fmt,
        input_example=X.head(2),
        skops_trusted_types=trusted,
        pip_requirements=NO_INFERENCE,
    )
    with pytest.raises(tracking.ModelIntegrityError, match="allow_unverified=True"):
        load_model(tmp_path / "m")  # no manifest: refused unless the caller opts in
    with pytest.warns(UnverifiedModelWarning, match="no 'mlcadence-manifest.json'"):
        loaded = load_model(tmp_path / "m", allow_unverified=True)
    assert not loaded.verified
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(
        loaded.predict(X), mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(X)
    )
    assert (
        loaded.signature.to_dict()
        == mlflow.models.Model.load(str(tmp_path / "m")).signature.to_dict()
    )


def test_we_load_an_mlflow_ndarray_model_with_its_signature_enforced(tmp_path, array_data):
    X, model = array_data
    mlflow.sklearn.save_model(
        model,
        str(tmp_path / "m"),
        serialization_format="cloudpickle",
        input_example=X[:2],
        pip_requirements=NO_INFERENCE,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedModelWarning)
        loaded = load_model(tmp_path / "m", allow_unverified=True)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    with pytest.raises(tracking.InvalidInput, match="shape"):
        loaded.predict(X[:, :3])


def test_mlflow_resolves_and_loads_what_we_logged_and_registered(
    tracking_uri, mlflow_uri, frame_data
):
    """Our file store, read by MLflow: runs:/ and models:/ URIs (alias, version)."""
    X, model = frame_data
    tracking.set_experiment("compat")
    with tracking.start_run():
        info = log_model(model, "model", input_example=X.head(2), registered_model_name="rf")
    Client().set_registered_model_alias("rf", "champion", 1)
    mlflow.set_tracking_uri(Path(tracking_uri).as_uri())
    expected = model.predict(X)
    for uri in [info.model_uri, "models:/rf/1", "models:/rf@champion"]:
        np.testing.assert_array_equal(mlflow.pyfunc.load_model(uri).predict(X), expected)
    mv = MlflowClient().get_model_version("rf", "1")
    assert mv.source == info.model_uri and mv.run_id == info.run_id


def test_we_resolve_and_load_what_mlflow_registered(mlflow_uri, frame_data, tmp_path):
    """MLflow's own file store: a runs:/ model registered by MLflow, resolved
    and loaded by our client from the same directory."""
    X, model = frame_data
    mlflow.set_experiment("from-mlflow")
    with mlflow.start_run() as run:
        save_dir = tmp_path / "saved"
        mlflow.sklearn.save_model(
            model, str(save_dir), serialization_format="cloudpickle", pip_requirements=NO_INFERENCE
        )
        mlflow.log_artifacts(str(save_dir), "model")
    mlflow.register_model(f"runs:/{run.info.run_id}/model", "mlf")
    MlflowClient().set_registered_model_alias("mlf", "champion", "1")

    client = Client(mlflow_uri)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedModelWarning)
        for uri in [
            "models:/mlf/1",
            "models:/mlf@champion",
            "models:/mlf/latest",
            f"runs:/{run.info.run_id}/model",
        ]:
            resolved = resolve_model_uri(uri, client)
            assert (resolved.local_path / "MLmodel").is_file(), uri
            np.testing.assert_array_equal(
                load_model(uri, client, allow_unverified=True).predict(X), model.predict(X)
            )


def test_we_load_an_mlflow3_logged_and_registered_model(mlflow_uri, array_data):
    """MLflow 3 `log_model(registered_model_name=...)`: the version's source is
    models:/<model_id>, a LoggedModel under <experiment>/models/."""
    X, model = array_data
    mlflow.set_experiment("from-mlflow3")  # the active experiment is global state in mlflow
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name="mlf3",
            serialization_format="cloudpickle",
            pip_requirements=NO_INFERENCE,
        )
    client = Client(mlflow_uri)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedModelWarning)
        for uri in [info.model_uri, "models:/mlf3/1"]:
            np.testing.assert_allclose(
                load_model(uri, client, allow_unverified=True).predict(X), model.predict(X)
            )
    assert resolve_model_uri("models:/mlf3/1", client).model_version.source == info.model_uri
