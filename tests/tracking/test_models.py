"""Models in the MLmodel format: save/load round trips, files and their exact
shapes, integrity checks, crash safety and signature enforcement.

MLflow-interop tests (the real mlflow package) live in
test_mlflow_compat_models.py; these need only scikit-learn.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlcadence.tracking.errors import AlreadyExists, InvalidInput, ModelIntegrityError, NotFound
from mlcadence.tracking.models import (
    ColSpec,
    Schema,
    Signature,
    TensorSpec,
    infer_signature,
    load_model,
    save_model,
)
from mlcadence.tracking.models.integrity import MANIFEST_FILE

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def frame_data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=40), "b": rng.integers(0, 10, size=40).astype(np.int64)})
    y = 3 * X["a"] - 2 * X["b"] + 1
    return X, y, LinearRegression().fit(X, y)


@pytest.fixture(scope="module")
def array_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    return X, y, LinearRegression().fit(X, y)


def _mlmodel(path: Path) -> dict:
    return yaml.safe_load((path / "MLmodel").read_text())


# -- round trips -----------------------------------------------------------
def test_dataframe_round_trip_predicts_the_same(tmp_path, frame_data):
    X, _, model = frame_data
    save_model(model, tmp_path / "m", input_example=X.head(3))
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    assert loaded.verified
    assert loaded.signature.inputs.names == ["a", "b"]
    assert loaded.metadata["flavors"]["sklearn"]["serialization_format"] == "cloudpickle"


def test_ndarray_round_trip_and_list_input(tmp_path, array_data):
    X, _, model = array_data
    save_model(model, str(tmp_path / "m"), input_example=X[:2])
    loaded = load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict(X[:2].tolist()), model.predict(X[:2]))
    assert loaded.signature.inputs.is_tensor


@pytest.mark.parametrize("fmt, filename", [("pickle", "model.pkl"), ("skops", "model.skops")])
def test_other_serialization_formats_round_trip(tmp_path, frame_data, fmt, filename):
    X, _, model = frame_data
    save_model(model, tmp_path / "m", serialization_format=fmt)
    doc = _mlmodel(tmp_path / "m")
    assert doc["flavors"]["sklearn"]["pickled_model"] == filename
    assert doc["flavors"]["python_function"]["model_path"] == filename
    assert (tmp_path / "m" / filename).is_file()
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(X), model.predict(X))


def test_unknown_serialization_format_is_refused_with_the_choices(tmp_path, frame_data):
    with pytest.raises(
        InvalidInput, match=r"Unrecognized serialization format: joblib.*cloudpickle"
    ):
        save_model(frame_data[2], tmp_path / "m", serialization_format="joblib")
    assert not (tmp_path / "m").exists()


def test_predict_accepts_records_dicts_and_scalar_rows(tmp_path, frame_data):
    X, _, model = frame_data
    save_model(model, tmp_path / "m", input_example=X.head(2))
    loaded = load_model(tmp_path / "m")
    expected = model.predict(X.head(2))
    np.testing.assert_allclose(loaded.predict(X.head(2).to_dict(orient="records")), expected)
    np.testing.assert_allclose(loaded.predict(X.head(2).to_dict(orient="list")), expected)
    one = {"a": float(X.a[0]), "b": int(X.b[0])}
    np.testing.assert_allclose(loaded.predict(one), expected[:1])


def test_predict_fn_predict_proba(tmp_path):
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    save_model(clf, tmp_path / "m", input_example=X, predict_fn="predict_proba")
    out = load_model(tmp_path / "m").predict(X)
    assert out.shape == (4, 2)
    assert json.loads(_mlmodel(tmp_path / "m")["signature"]["outputs"])[0]["tensor-spec"][
        "shape"
    ] == [-1, 2]


# -- the files ---------------------------------------------------------------
def test_mlmodel_has_mlflow_keys(tmp_path, frame_data):
    X, _, model = frame_data
    save_model(model, tmp_path / "m", input_example=X.head(2), metadata={"team": "x"})
    doc = _mlmodel(tmp_path / "m")
    pyfunc = doc["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "mlflow.sklearn"
    assert pyfunc["model_path"] == "model.pkl"
    assert pyfunc["predict_fn"] == "predict"
    assert pyfunc["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert pyfunc["python_version"].count(".") == 2
    sk = doc["flavors"]["sklearn"]
    assert sk["code"] is None and sk["pickled_model"] == "model.pkl"
    import sklearn

    assert sk["sklearn_version"] == sklearn.__version__
    assert len(doc["model_uuid"]) == 32
    assert doc["model_size_bytes"] > 0
    assert doc["metadata"] == {"team": "x"}
    assert "mlflow_version" not in doc and doc["mlcadence_version"]
    assert doc["saved_input_example_info"] == {
        "artifact_path": "input_example.json",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
        "type": "dataframe",
    }
    # Sorted keys in block style, as MLflow's yaml.safe_dump writes them.
    text = (tmp_path / "m" / "MLmodel").read_text()
    top = [ln.split(":")[0] for ln in text.splitlines() if ln and not ln.startswith(" ")]
    assert top == sorted(top)


def test_signature_json_text_is_mlflows(tmp_path):
    # The exact text mlflow.models.infer_signature(X, y).to_dict() gives (3.17.2);
    # test_mlflow_compat_models checks the same against the live package.
    X = pd.DataFrame(
        {
            "a": [1.0, 2.0],
            "b": [1, 2],
            "c": ["x", "y"],
            "d": [True, False],
            "e": np.array([1, 2], dtype=np.int32),
            "f": np.array([1, 2], dtype=np.float32),
            "g": [1.0, None],
        }
    )
    sig = infer_signature(X, np.array([0.5, 1.5])).to_dict()
    assert sig == {
        "inputs": '[{"type": "double", "name": "a", "required": true}, '
        '{"type": "long", "name": "b", "required": true}, '
        '{"type": "string", "name": "c", "required": true}, '
        '{"type": "boolean", "name": "d", "required": true}, '
        '{"type": "integer", "name": "e", "required": true}, '
        '{"type": "float", "name": "f", "required": true}, '
        '{"type": "double", "name": "g", "required": false}]',
        "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]',
        "params": None,
    }
    tensor = infer_signature(np.zeros((2, 3, 4), dtype=np.float32)).to_dict()
    assert tensor["inputs"] == (
        '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3, 4]}}]'
    )
    assert Signature.from_dict(sig).to_dict() == sig


def test_inferred_signature_at_save_matches_mlflows_rule(tmp_path, frame_data):
    # A 1-D prediction on column inputs is one unnamed double column, not a tensor.
    X, _, model = frame_data
    save_model(model, tmp_path / "m", input_example=X.head(2))
    assert _mlmodel(tmp_path / "m")["signature"]["outputs"] == (
        '[{"type": "double", "required": true}]'
    )


def test_input_example_files_have_mlflows_shapes(tmp_path):
    X = pd.DataFrame({"a": [1.0, np.nan], "b": [1, 2]})
    model = LinearRegression().fit(X.fillna(0), [1, 2])
    save_model(model, tmp_path / "df", input_example=X, signature=infer_signature(X))
    assert (tmp_path / "df" / "input_example.json").read_text() == (
        '{"columns": ["a", "b"], "data": [[1.0, 1], [null, 2]]}'
    )
    serving = json.loads((tmp_path / "df" / "serving_input_example.json").read_text())
    assert serving == {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 1], [None, 2]]}}
    assert (tmp_path / "df" / "serving_input_example.json").read_text().startswith('{\n  "')

    arr = np.array([[1.0, 2.0], [3.0, 4.0]])
    save_model(LinearRegression().fit(arr, [1, 2]), tmp_path / "nd", input_example=arr)
    assert (tmp_path / "nd" / "input_example.json").read_text() == "[[1.0, 2.0], [3.0, 4.0]]"
    assert json.loads((tmp_path / "nd" / "serving_input_example.json").read_text()) == {
        "inputs": [[1.0, 2.0], [3.0, 4.0]]
    }
    info = _mlmodel(tmp_path / "nd")["saved_input_example_info"]
    assert info["type"] == "ndarray" and "pandas_orient" not in info


def test_environment_files(tmp_path, frame_data):
    save_model(frame_data[2], tmp_path / "m")
    reqs = (tmp_path / "m" / "requirements.txt").read_text()
    assert not reqs.endswith("\n")
    names = {line.split("==")[0]: line for line in reqs.split("\n")}
    import cloudpickle
    import sklearn

    assert names["scikit-learn"] == f"scikit-learn=={sklearn.__version__}"
    assert names["cloudpickle"] == f"cloudpickle=={cloudpickle.__version__}"
    assert {"numpy", "pandas"} <= set(names) and "skops" not in names
    env = yaml.safe_load((tmp_path / "m" / "python_env.yaml").read_text())
    assert env["python"] == _mlmodel(tmp_path / "m")["flavors"]["python_function"]["python_version"]
    assert env["dependencies"] == ["-r requirements.txt"]
    assert "wheel" in env["build_dependencies"]
    conda = yaml.safe_load((tmp_path / "m" / "conda.yaml").read_text())
    assert conda["name"] == "mlflow-env" and conda["channels"] == ["conda-forge"]
    assert conda["dependencies"][-1] == {"pip": reqs.split("\n")}


def test_skops_requirement_and_pip_requirements_override(tmp_path, frame_data):
    save_model(frame_data[2], tmp_path / "s", serialization_format="skops")
    assert "skops==" in (tmp_path / "s" / "requirements.txt").read_text()
    save_model(frame_data[2], tmp_path / "p", pip_requirements=["scikit-learn", "numpy<3"])
    assert (tmp_path / "p" / "requirements.txt").read_text() == "scikit-learn\nnumpy<3"


def test_save_refuses_a_non_empty_target(tmp_path, frame_data):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("x")
    with pytest.raises(AlreadyExists, match="already exists and is not empty"):
        save_model(frame_data[2], tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["keep.txt"]
    # An empty directory is fine (as in MLflow).
    (tmp_path / "empty").mkdir()
    save_model(frame_data[2], tmp_path / "empty")
    assert (tmp_path / "empty" / "MLmodel").is_file()


# -- integrity ----------------------------------------------------------------
def test_manifest_lists_every_file(tmp_path, frame_data):
    X, _, model = frame_data
    save_model(model, tmp_path / "m", input_example=X.head(2))
    manifest = json.loads((tmp_path / "m" / MANIFEST_FILE).read_text())
    on_disk = {p.name for p in (tmp_path / "m").iterdir()} - {MANIFEST_FILE}
    assert set(manifest["files"]) == on_disk
    assert {"MLmodel", "model.pkl", "requirements.txt", "input_example.json"} <= on_disk
    assert all(len(d) == 64 for d in manifest["files"].values())


def test_tampered_pickle_is_refused_before_unpickling(tmp_path, frame_data):
    save_model(frame_data[2], tmp_path / "m")
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (tmp_path / "m" / "model.pkl").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelIntegrityError) as err:
        load_model(tmp_path / "m")
    assert "model.pkl" in err.value.message and "Re-save" in err.value.message
    assert not marker.exists()  # the pickle was never opened


@pytest.mark.parametrize("victim", ["MLmodel", "requirements.txt"])
def test_any_tampered_file_is_refused(tmp_path, frame_data, victim):
    save_model(frame_data[2], tmp_path / "m")
    target = tmp_path / "m" / victim
    target.write_text(target.read_text() + "\n")  # even one added byte is caught
    with pytest.raises(ModelIntegrityError, match=victim):
        load_model(tmp_path / "m")


def test_missing_model_file_is_refused(tmp_path, frame_data):
    save_model(frame_data[2], tmp_path / "m")
    (tmp_path / "m" / "model.pkl").unlink()
    with pytest.raises(ModelIntegrityError, match="'model.pkl' is missing"):
        load_model(tmp_path / "m")


# -- crash safety -------------------------------------------------------------
class _Unpicklable:
    def predict(self, X):
        return np.zeros(len(X))

    def __reduce__(self):
        raise RuntimeError("cannot serialize me")


def test_failed_save_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError, match="cannot serialize me"):
        save_model(_Unpicklable(), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_crashed_process_leaves_no_loadable_model(tmp_path):
    """The process dies (os._exit) while the model file is being written:
    nothing at the target path reads as a model."""
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from mlcadence.tracking.models import save_model

        class DiesWhileSaved:
            def predict(self, X):
                return X
            def __reduce__(self):
                os._exit(7)

        save_model(DiesWhileSaved(), {str(tmp_path / "m")!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == 7, proc.stderr.decode()
    assert not (tmp_path / "m").exists()
    with pytest.raises(NotFound, match="MLmodel"):
        load_model(tmp_path / "m")
    # The abandoned temporary directory is hidden and not a model either.
    leftovers = [p for p in tmp_path.iterdir()]
    assert all(p.name.startswith(".mlc-tmp-") for p in leftovers)
    assert not any((p / "MLmodel").exists() for p in leftovers)


def test_load_of_a_missing_path_says_what_to_do(tmp_path):
    with pytest.raises(NotFound, match='Could not find an "MLmodel"'):
        load_model(tmp_path / "nope")


# -- signature enforcement ----------------------------------------------------
@pytest.fixture
def frame_model(tmp_path, frame_data):
    X, _, model = frame_data
    save_model(model, tmp_path / "m", input_example=X.head(2))
    return load_model(tmp_path / "m"), model, X


def test_missing_column_names_it_and_the_schema(frame_model):
    loaded, _, X = frame_model
    with pytest.raises(InvalidInput) as err:
        loaded.predict(X[["a"]])
    msg = err.value.message
    assert "missing required column(s) ['b']" in msg
    assert "'a': double" in msg and "'b': long" in msg
    assert err.value.http_status == 400


def test_columns_by_name_are_reordered_and_extras_dropped(frame_model):
    loaded, model, X = frame_model
    shuffled = X[["b", "a"]].assign(extra="ignored")
    np.testing.assert_allclose(loaded.predict(shuffled), model.predict(X))


def test_unnamed_columns_match_by_position_when_count_matches(frame_model):
    loaded, model, X = frame_model
    rows = X.to_numpy(dtype=object).tolist()  # [[a (float), b (int)], ...]
    np.testing.assert_allclose(loaded.predict(rows), model.predict(X))
    np.testing.assert_allclose(loaded.predict(pd.DataFrame(rows)), model.predict(X))
    with pytest.raises(InvalidInput, match="matched by position only when there are exactly 2"):
        loaded.predict(np.c_[X.to_numpy(), X.to_numpy()])


def test_widening_conversions_are_accepted(tmp_path):
    X = pd.DataFrame({"d": [1.0, 2.0], "l": np.array([1, 2], dtype=np.int64)})
    save_model(LinearRegression().fit(X, [1, 2]), tmp_path / "m", input_example=X)
    loaded = load_model(tmp_path / "m")
    ints = pd.DataFrame({"d": [1, 2], "l": np.array([1, 2], dtype=np.int32)})
    np.testing.assert_allclose(loaded.predict(ints), loaded.predict(X))


def test_narrowing_conversions_are_refused(tmp_path):
    X = pd.DataFrame({"d": [1.0, 2.0], "l": np.array([1, 2], dtype=np.int64)})
    save_model(LinearRegression().fit(X, [1, 2]), tmp_path / "m", input_example=X)
    loaded = load_model(tmp_path / "m")
    with pytest.raises(InvalidInput, match="Column 'l' has dtype float64.*long"):
        loaded.predict(pd.DataFrame({"d": [1.0], "l": [1.5]}))
    with pytest.raises(InvalidInput, match="missing values"):
        loaded.predict(pd.DataFrame({"d": [1.0, 2.0], "l": [1.0, np.nan]}))
    with pytest.raises(InvalidInput, match="Column 'd'.*double"):
        loaded.predict(pd.DataFrame({"d": ["x", "y"], "l": [1, 2]}))


def test_tensor_shape_and_dtype_checks(tmp_path, array_data):
    X, _, model = array_data
    save_model(model, tmp_path / "m", input_example=X[:2])
    loaded = load_model(tmp_path / "m")
    with pytest.raises(InvalidInput, match=r"shape \(2, 4\), not \(-1, 3\)"):
        loaded.predict(np.zeros((2, 4)))
    with pytest.raises(InvalidInput, match="dtype <U1 cannot be converted to float64"):
        loaded.predict(np.array([["a", "b", "c"]]))
    # int -> float64 widening is fine
    np.testing.assert_allclose(
        loaded.predict(np.array([[1, 2, 3]])), model.predict(np.array([[1.0, 2.0, 3.0]]))
    )


def test_explicit_signature_objects(tmp_path, array_data):
    X, _, model = array_data
    sig = Signature(
        inputs=Schema([TensorSpec("float64", (-1, 3))]), outputs=Schema([ColSpec("double")])
    )
    save_model(model, tmp_path / "m", signature=sig)
    assert load_model(tmp_path / "m").signature == sig
    with pytest.raises(InvalidInput, match="cannot mix named and unnamed"):
        Schema([ColSpec("double", "a"), ColSpec("double")])


def test_no_signature_passes_data_through(tmp_path, array_data):
    X, _, model = array_data
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.signature is None
    np.testing.assert_allclose(loaded.predict(X.tolist()), model.predict(X))


def test_ragged_rows_are_refused(tmp_path, frame_model):
    loaded, _, _ = frame_model
    with pytest.raises(InvalidInput, match="different lengths"):
        loaded.predict([[1.0, 2], [1.0]])


def test_environment_variable_free(tmp_path, frame_data, monkeypatch):
    # Saving must not depend on the tracking store at all.
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", "bogus://nowhere")
    save_model(frame_data[2], tmp_path / "m")
    assert os.path.isdir(tmp_path / "m")


# -- JSON values (the scoring server's rows) through the same signature rules --
def test_json_rows_become_one_float_array_checked_cell_by_cell():
    from mlcadence.tracking.models.signature import ColSpec, rows_to_array

    specs = (ColSpec("double", "a"), ColSpec("long", "b"))
    assert rows_to_array([[1, 2], [0.5, 3]], specs).tolist() == [[1.0, 2.0], [0.5, 3.0]]
    with pytest.raises(InvalidInput, match="'b'.*whole numbers"):
        rows_to_array([[1, 2.5]], specs)
    with pytest.raises(InvalidInput, match="'a'.*expects a number"):
        rows_to_array([["x", 2]], specs)


def test_json_rows_become_a_frame_typed_by_the_signature():
    from mlcadence.tracking.models.signature import MISSING, ColSpec, rows_to_frame

    specs = (ColSpec("string", "city"), ColSpec("long", "n"), ColSpec("double", "x", False))
    frame = rows_to_frame([["Oslo", 3, MISSING]], specs)
    assert list(frame.columns) == ["city", "n", "x"] and str(frame["n"].dtype) == "int64"
    assert np.isnan(frame["x"][0])
    with pytest.raises(InvalidInput, match="'city'.*text"):
        rows_to_frame([[5, 3, 1.0]], specs)


def test_json_tensor_values_are_checked_against_the_spec_shape():
    from mlcadence.tracking.models.signature import TensorSpec, values_to_tensor

    spec = TensorSpec("float32", (-1, 2))
    assert values_to_tensor([[1, 2]], spec).dtype == np.float32
    with pytest.raises(InvalidInput, match=r"\[1, 3\].*\[-1, 2\]"):
        values_to_tensor([[1, 2, 3]], spec)
