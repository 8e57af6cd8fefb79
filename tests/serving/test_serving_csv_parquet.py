"""CSV without a header row and Parquet, on a real server, for a model whose
signature is a tensor (what a model trained on a numpy array gets)."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.integration

ROWS = np.array([[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1], [1, 0, 1, 1]], dtype=float)


@pytest.fixture(scope="module")
def tensor_model(tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    from mlcadence.tracking.models import save_model

    rng = np.random.default_rng(3)
    X = rng.integers(0, 2, (200, 4)).astype(float)
    y = ((X[:, 0] + X[:, 2] + rng.integers(0, 2, 200)) >= 2).astype(int)
    fitted = LogisticRegression().fit(X, y)
    path = tmp_path_factory.mktemp("tensor") / "model"
    save_model(fitted, str(path), input_example=X[:2])
    assert '"type": "tensor"' in (path / "MLmodel").read_text()  # what this file is about
    return path, fitted.predict(ROWS).tolist()


@pytest.fixture(scope="module")
def server(start_server, tensor_model):
    return start_server(["-m", str(tensor_model[0])])


def post(server, body: bytes, content_type: str) -> httpx.Response:
    return httpx.post(
        server.url + "/invocations", content=body, headers={"Content-Type": content_type}
    )


def csv_rows(rows) -> bytes:
    return "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows).encode()


def test_headerless_csv_scores_every_row(server, tensor_model):
    answer = post(server, csv_rows(ROWS), "text/csv")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": tensor_model[1]}


def test_csv_with_pandas_default_header_drops_the_header(server, tensor_model):
    body = pd.DataFrame(ROWS).to_csv(index=False).encode()  # header 0,1,2,3
    assert body.startswith(b"0,1,2,3\n")
    answer = post(server, body, "text/csv")
    assert answer.json() == {"predictions": tensor_model[1]}


def test_the_header_parameter_decides_when_given(server, tensor_model):
    named = b"a,b,c,d\n" + csv_rows(ROWS)
    assert (
        post(server, named, "text/csv; header=present").json()["predictions"] == (tensor_model[1])
    )
    first_row_is_data = csv_rows(ROWS)
    present = post(server, first_row_is_data, "text/csv; header=present")
    assert present.json()["predictions"] == tensor_model[1][1:]  # first row taken as names
    absent = post(server, first_row_is_data, "text/csv; header=absent")
    assert absent.json()["predictions"] == tensor_model[1]
    bad = post(server, first_row_is_data, "text/csv; header=maybe")
    assert bad.status_code == 415 and "header=present or header=absent" in bad.json()["message"]


def parquet_rows() -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame(ROWS, columns=["a", "b", "c", "d"]).to_parquet(buffer)
    return buffer.getvalue()


def test_parquet_scores_with_the_parquet_extra(server, tensor_model):
    answer = post(server, parquet_rows(), "application/vnd.apache.parquet")
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.content) == {"predictions": tensor_model[1]}


def test_parquet_without_pyarrow_is_a_415_naming_the_extra(start_server, tensor_model, tmp_path):
    """A server where pyarrow cannot be imported (a package of that name that
    refuses to load sits first on its path), as after the default install."""
    blocker = tmp_path / "no-pyarrow" / "pyarrow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('pyarrow is not installed')\n")
    bare = start_server(["-m", str(tensor_model[0])], {"PYTHONPATH": str(blocker.parent)})
    answer = post(bare, parquet_rows(), "application/vnd.apache.parquet")
    assert answer.status_code == 415
    assert "pip install 'mlcadence[parquet]'" in answer.json()["message"]
    assert post(bare, csv_rows(ROWS), "text/csv").status_code == 200  # the rest still works
