"""The forest table: a tree ensemble's predictions without scikit-learn, equal
bit for bit to the estimator's, saved beside the model under its manifest,
and used by the server before scikit-learn is imported."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression

from mlcadence.tracking.errors import ModelIntegrityError
from mlcadence.tracking.models import forest_table, integrity, load_model, save_model
from mlcadence.tracking.models.forest_table import ForestTable, compile_forest, compile_verified

RNG = np.random.default_rng(7)
X = RNG.normal(size=(400, 6))
Y_REG = X[:, 0] * 3 + RNG.normal(size=400)
Y_BIN = (X[:, 1] > 0).astype(int)
Y_THREE = np.digitize(X[:, 2], [-0.5, 0.5])
Y_STR = np.where(X[:, 0] > 0, "up", "down")

CASES = [
    (RandomForestClassifier, Y_BIN, "predict"),
    (RandomForestClassifier, Y_THREE, "predict_proba"),
    (ExtraTreesClassifier, Y_STR, "predict"),
    (ExtraTreesClassifier, Y_BIN, "predict_proba"),
    (RandomForestRegressor, Y_REG, "predict"),
    (ExtraTreesRegressor, Y_REG, "predict"),
]


@pytest.mark.parametrize(("cls", "y", "method"), CASES)
def test_table_answers_equal_the_estimators_bit_for_bit(cls, y, method):
    estimator = cls(n_estimators=40, random_state=0).fit(X, y)
    table = compile_forest(estimator, method)
    assert table is not None
    slow = getattr(estimator, method)
    # One row matters most: numpy adds a lone row's 40 tree outputs pairwise
    # unless the table keeps scikit-learn's one-after-another order.
    for rows in (1, 2, 7, 64, 300):
        batch = RNG.normal(size=(rows, 6)) * 2
        assert np.array_equal(table.predict(batch), slow(batch)), rows


def test_table_leaves_inputs_it_cannot_answer_exactly_to_the_estimator():
    estimator = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y_BIN)
    table = compile_forest(estimator, "predict")
    assert table.predict(np.full((1, 6), 1e39)) is None  # not finite in float32
    assert table.predict(np.full((1, 6), np.nan)) is None
    assert table.predict(np.zeros((1, 5))) is None  # wrong width
    assert table.predict(np.array([["a"] * 6])) is None


def test_only_supported_ensembles_compile():
    assert compile_forest(LogisticRegression().fit(X, Y_BIN), "predict") is None
    regressor = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, Y_REG)
    assert compile_forest(regressor, "predict_proba") is None


def test_table_round_trips_through_bytes():
    estimator = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, Y_STR)
    table = compile_verified(estimator, "predict", forest_table.probe_inputs(6))
    again = ForestTable.from_bytes(table.to_bytes())
    batch = RNG.normal(size=(20, 6))
    assert np.array_equal(again.predict(batch), estimator.predict(batch))


def test_a_table_pointing_outside_itself_is_refused():
    estimator = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, Y_BIN)
    table = compile_forest(estimator, "predict")
    table.left[0] = 10**9
    with pytest.raises(ValueError, match="points outside"):
        ForestTable.from_bytes(table.to_bytes())
    with pytest.raises(ValueError, match="not a forest table"):
        ForestTable.from_bytes(b"PK\x03\x04 not an npz")


@pytest.fixture(scope="module")
def forest_dir(tmp_path_factory):
    frame = pd.DataFrame((X > 0).astype(int), columns=[f"lag_{i}" for i in range(6)])
    estimator = RandomForestClassifier(n_estimators=30, random_state=0).fit(frame, Y_BIN)
    path = tmp_path_factory.mktemp("forest") / "model"
    save_model(estimator, path, input_example=frame.head(3))
    return path, estimator, frame


def test_saving_a_forest_writes_its_table_under_the_manifest(forest_dir):
    path, _, _ = forest_dir
    manifest = json.loads((path / integrity.MANIFEST_FILE).read_text())
    assert forest_table.FILE in manifest["files"]


def test_a_tampered_table_refuses_the_whole_model(forest_dir, tmp_path):
    path, _, _ = forest_dir
    copy = tmp_path / "model"
    shutil.copytree(path, copy)
    other = RandomForestClassifier(n_estimators=3, random_state=1).fit(X, 1 - Y_BIN)
    (copy / forest_table.FILE).write_bytes(compile_forest(other, "predict").to_bytes())
    with pytest.raises(ModelIntegrityError, match=forest_table.FILE):
        load_model(str(copy))


SERVE_WITHOUT_SKLEARN = """
import json, sys
import numpy as np
from mlcadence.serving.model import load
model = load(sys.argv[1])
rows = np.array(json.loads(sys.argv[2]), dtype=float)
answer = model.predict(rows).tolist()
before = "sklearn" in sys.modules
try:
    model.predict(np.full((1, rows.shape[1]), 1e39))
    refused = None
except ValueError as exc:
    refused = str(exc)
print(json.dumps({"answer": answer, "sklearn_before_fallback": before,
                  "sklearn_after_fallback": "sklearn" in sys.modules, "refused": refused}))
"""


def test_the_server_answers_from_the_table_without_importing_scikit_learn(forest_dir):
    path, estimator, frame = forest_dir
    rows = frame.head(10).to_numpy()
    out = subprocess.run(
        [sys.executable, "-c", SERVE_WITHOUT_SKLEARN, str(path), json.dumps(rows.tolist())],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["answer"] == estimator.predict(rows.astype(float)).tolist()
    assert result["sklearn_before_fallback"] is False
    # An input the table leaves alone is the estimator's: unpickled then, and
    # refused with scikit-learn's own message.
    assert result["sklearn_after_fallback"] is True
    assert "float32" in result["refused"] or "too large" in result["refused"]


def test_an_unverified_model_never_takes_a_table_from_disk(forest_dir, tmp_path):
    # Without a manifest nothing vouches for a table file: a planted one that
    # answers the opposite class must be ignored.
    path, estimator, frame = forest_dir
    copy = tmp_path / "unverified"
    shutil.copytree(path, copy)
    (copy / integrity.MANIFEST_FILE).unlink()
    flipped = RandomForestClassifier(n_estimators=3, random_state=0).fit(frame, 1 - Y_BIN)
    (copy / forest_table.FILE).write_bytes(compile_forest(flipped, "predict").to_bytes())
    from mlcadence.serving.model import load

    with pytest.warns(UserWarning):
        model = load(str(copy), allow_unverified=True)
    rows = frame.to_numpy().astype(float)
    assert np.array_equal(model.predict(rows), estimator.predict(rows))
