"""The scoring protocol against a real server process over real HTTP:
one test per request shape and per error class."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.serving.flagship import BOOK_ROW, FEATURES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(start_server, stock_model):
    return start_server(["-m", str(stock_model), "--max-body-bytes", "65536"])


@pytest.fixture(scope="module")
def quirky_model(tmp_path_factory, stock_estimator):
    """The flagship forest behind a step that sleeps (lag_0 == 7) or raises
    (lag_0 == 42): a slow model and a crashing model in one."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from mlcadence.tracking.models import save_model

    def quirk(X):
        import time as _time

        import numpy as _np

        X = _np.asarray(X)
        if (X[:, 0] == 7).any():
            _time.sleep(5)
        if (X[:, 0] == 42).any():
            raise ValueError("lag_0 = 42 is not an input this model takes")
        return X

    pipeline = Pipeline([("quirk", FunctionTransformer(quirk)), ("forest", stock_estimator)])
    path = tmp_path_factory.mktemp("quirky") / "model"
    X = pd.DataFrame([[0] * 14, [1] * 14], columns=FEATURES)
    save_model(pipeline, str(path), input_example=X)
    return path


@pytest.fixture(scope="module")
def quirky_server(start_server, quirky_model):
    return start_server(["-m", str(quirky_model), "--timeout", "1"])


@pytest.fixture(scope="module")
def guarded_server(start_server, tmp_path_factory, stock_model):
    """Token required; serves an alias whose version exists but cannot be
    loaded yet, its files gone for now (-> 503 while the server retries)."""
    from mlcadence.tracking import Client
    from mlcadence.tracking.registry import register_model

    root = tmp_path_factory.mktemp("unloadable-store")
    store = root / "mlruns"
    client = Client(str(store))
    shutil.copytree(stock_model, root / "model")
    version = register_model(str(root / "model"), "nothing-yet", client=client)
    client.set_registered_model_alias("nothing-yet", "champion", version.version)
    shutil.rmtree(root / "model")  # the version's source
    env = {"MLCADENCE_TRACKING_URI": str(store), "MLCADENCE_SERVING_TOKEN": "s3cret"}
    return start_server(["-m", "models:/nothing-yet@champion", "--reload-interval", "0.5"], env)


def post(server, body, content_type="application/json", **kwargs) -> httpx.Response:
    if not isinstance(body, str | bytes):
        body = json.dumps(body)
    headers = kwargs.pop("headers", {})
    if content_type is not None:
        headers["Content-Type"] = content_type
    return httpx.post(
        server.url + "/invocations", content=body, headers=headers, timeout=30, **kwargs
    )


def expected(est, rows) -> list:
    return est.predict(pd.DataFrame(rows, columns=FEATURES)).tolist()


def assert_error(response, status, code, *fragments):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    for fragment in fragments:
        assert fragment in body["message"], body["message"]


# ------------------------------------------------------------------ shapes
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_books_exact_curl_request(server, stock_estimator):
    port = server.state["port"]
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-i",
            f"http://127.0.0.1:{port}/invocations",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"data":[[1,1,1,1,0,1,1,1,0,1,1,1,0,0]]}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200")
    assert "deprecation: true" in head.lower()
    assert json.loads(body) == {"predictions": expected(stock_estimator, [BOOK_ROW])}


def test_legacy_columns_and_data(server, stock_estimator):
    rows = [BOOK_ROW, [0] * 14]
    r = post(server, {"columns": FEATURES, "data": rows})
    assert r.status_code == 200 and r.headers["deprecation"] == "true"
    assert r.json() == {"predictions": expected(stock_estimator, rows)}


def test_dataframe_split(server, stock_estimator):
    rows = [BOOK_ROW, [1] * 14, [0] * 14]
    r = post(server, {"dataframe_split": {"columns": FEATURES, "data": rows}})
    assert r.status_code == 200 and "deprecation" not in r.headers
    assert r.json() == {"predictions": expected(stock_estimator, rows)}


def test_dataframe_split_columns_in_another_order(server, stock_estimator):
    order = list(reversed(FEATURES))
    row = dict(zip(FEATURES, BOOK_ROW, strict=True))
    r = post(server, {"dataframe_split": {"columns": order, "data": [[row[c] for c in order]]}})
    assert r.json() == {"predictions": expected(stock_estimator, [BOOK_ROW])}


def test_dataframe_records(server, stock_estimator):
    records = [dict(zip(FEATURES, BOOK_ROW, strict=True)), dict.fromkeys(FEATURES, 0)]
    r = post(server, {"dataframe_records": records})
    assert r.json() == {"predictions": expected(stock_estimator, [BOOK_ROW, [0] * 14])}


def test_instances(server, stock_estimator):
    r = post(server, {"instances": [BOOK_ROW]})
    assert r.json() == {"predictions": expected(stock_estimator, [BOOK_ROW])}


def test_inputs_rows_and_columns(server, stock_estimator):
    want = expected(stock_estimator, [BOOK_ROW])
    assert post(server, {"inputs": [BOOK_ROW]}).json() == {"predictions": want}
    columns = {name: [value] for name, value in zip(FEATURES, BOOK_ROW, strict=True)}
    assert post(server, {"inputs": columns}).json() == {"predictions": want}


def test_params_are_accepted_and_ignored_by_a_model_without_params(server, stock_estimator):
    r = post(server, {"inputs": [BOOK_ROW], "params": {"threshold": 0.3}})
    assert r.json() == {"predictions": expected(stock_estimator, [BOOK_ROW])}


def test_csv(server, stock_estimator):
    frame = pd.DataFrame([BOOK_ROW, [0] * 14], columns=FEATURES)
    r = post(server, frame.to_csv(index=False), content_type="text/csv")
    assert r.json() == {"predictions": expected(stock_estimator, frame.values.tolist())}


def test_parquet(server, stock_estimator):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame([BOOK_ROW], columns=FEATURES)
    buf = io.BytesIO()
    frame.to_parquet(buf)
    r = post(server, buf.getvalue(), content_type="application/vnd.apache.parquet")
    assert r.json() == {"predictions": expected(stock_estimator, [BOOK_ROW])}


def test_missing_content_type_is_read_as_json(server, stock_estimator):
    r = post(server, {"data": [BOOK_ROW]}, content_type=None)
    assert r.status_code == 200
    assert r.json() == {"predictions": expected(stock_estimator, [BOOK_ROW])}


def test_charset_utf8_is_accepted(server):
    r = post(server, {"inputs": [BOOK_ROW]}, content_type="application/json; charset=UTF-8")
    assert r.status_code == 200


# ------------------------------------------------------------------ errors
def test_malformed_json_is_400(server):
    assert_error(post(server, '{"data": [[1, 2'), 400, "BAD_REQUEST", "valid JSON")


def test_top_level_list_is_400(server):
    assert_error(post(server, [BOOK_ROW]), 400, "BAD_REQUEST", "Received a list")


def test_unknown_shape_is_400_and_names_the_shapes(server):
    r = post(server, {"rows": [BOOK_ROW]})
    assert_error(
        r, 400, "BAD_REQUEST", "dataframe_split", "dataframe_records", "instances", "inputs"
    )


def test_two_shapes_at_once_is_400(server):
    assert_error(
        post(server, {"inputs": [BOOK_ROW], "instances": [BOOK_ROW]}),
        400,
        "BAD_REQUEST",
        "'instances', 'inputs'",
    )


def test_missing_column_is_400_naming_it(server):
    record = dict(zip(FEATURES, BOOK_ROW, strict=True))
    del record["lag_3"]
    assert_error(
        post(server, {"dataframe_records": [record]}), 400, "INVALID_PARAMETER_VALUE", "lag_3"
    )


def test_wrong_row_width_is_400_naming_the_expected_columns(server):
    assert_error(
        post(server, {"data": [[1, 0, 1]]}), 400, "INVALID_PARAMETER_VALUE", "14 values", "lag_0"
    )


def test_wrong_type_is_400_naming_the_column(server):
    row = list(BOOK_ROW)
    row[5] = "up"
    assert_error(
        post(server, {"dataframe_split": {"columns": FEATURES, "data": [row]}}),
        400,
        "INVALID_PARAMETER_VALUE",
        "lag_5",
        "'up'",
    )


def test_lossy_coercion_is_400(server):
    row = list(BOOK_ROW)
    row[2] = 0.5
    assert_error(post(server, {"data": [row]}), 400, "INVALID_PARAMETER_VALUE", "lag_2")


def test_unsupported_content_type_is_415(server):
    assert_error(
        post(server, "lag_0=1", content_type="text/plain"), 415, "BAD_REQUEST", "text/plain"
    )


def test_non_utf8_charset_is_415(server):
    r = post(server, {"data": [BOOK_ROW]}, content_type="application/json; charset=latin-1")
    assert_error(r, 415, "BAD_REQUEST", "UTF-8")


def test_content_type_parameters_are_415(server):
    r = post(server, {"data": [BOOK_ROW]}, content_type="application/json; format=pandas-split")
    assert_error(r, 415, "BAD_REQUEST", "format")


def test_body_over_the_limit_is_413(server):
    rows = [BOOK_ROW] * 3000  # ~130 kB > 64 KiB
    assert_error(post(server, {"data": rows}), 413, "REQUEST_LIMIT_EXCEEDED", "65536")


def test_slow_prediction_is_504(quirky_server):
    row = [7] + [0] * 13
    r = post(quirky_server, {"data": [row]})
    assert_error(r, 504, "DEADLINE_EXCEEDED", "1.0 s")
    # (a 200 would mean the deadline waited for the 5 s model: it must not)
    # The model keeps its thread until it returns; later requests wait for it.
    deadline = time.monotonic() + 60
    while post(quirky_server, {"data": [[0] * 14]}).status_code != 200:
        assert time.monotonic() < deadline


def test_model_crash_on_valid_input_is_a_logged_500(quirky_server):
    r = post(quirky_server, {"data": [[42] + [0] * 13]})
    assert_error(r, 500, "INTERNAL_ERROR", "lag_0 = 42")
    # The server's fault, so its log has the traceback of the model's error.
    log = quirky_server.log()
    assert "Traceback" in log and "ValueError: lag_0 = 42" in log


def test_no_model_loaded_is_503_and_health_says_so(guarded_server):
    auth = {"Authorization": "Bearer s3cret"}
    r = post(guarded_server, {"data": [BOOK_ROW]}, headers=auth)
    assert_error(r, 503, "TEMPORARILY_UNAVAILABLE", "nothing-yet@champion")
    assert httpx.get(guarded_server.url + "/ping").status_code == 503
    health = httpx.get(guarded_server.url + "/health")
    assert health.status_code == 503 and health.json()["status"] == "unavailable"


def test_bad_or_missing_token_is_401_and_health_stays_open(guarded_server):
    assert_error(post(guarded_server, {"data": [BOOK_ROW]}), 401, "UNAUTHENTICATED", "Bearer")
    r = post(guarded_server, {"data": [BOOK_ROW]}, headers={"Authorization": "Bearer nope"})
    assert_error(r, 401, "UNAUTHENTICATED")
    assert r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(guarded_server.url + "/health").status_code in (200, 503)
    auth = {"Authorization": "Bearer s3cret"}
    for path in ("/version", "/metrics", "/docs", "/openapi.json"):
        assert_error(httpx.get(guarded_server.url + path), 401, "UNAUTHENTICATED")
        assert httpx.get(guarded_server.url + path, headers=auth).status_code == 200


# --------------------------------------------------------------- endpoints
def test_health_version_and_ping(server, stock_model):
    assert httpx.get(server.url + "/ping").status_code == 200
    health = httpx.get(server.url + "/health").json()
    assert health["status"] == "ok"
    assert health["model"]["uri"] == str(stock_model)
    assert health["model"]["loaded_at"].endswith("Z")
    version = httpx.get(server.url + "/version").json()
    assert version["server"] == "mlcadence"


def test_metrics_count_requests_by_status(server):
    post(server, {"nope": 1})
    text = httpx.get(server.url + "/metrics").text
    assert 'mlcadence_requests_total{path="/invocations",status="400"}' in text
    assert "mlcadence_request_latency_seconds_bucket" in text
    assert "mlcadence_batch_size_bucket" in text
    assert "mlcadence_model_info{" in text


def test_openapi_documents_invocations_from_the_signature(server, stock_model):
    doc = httpx.get(server.url + "/openapi.json").json()
    body = doc["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]
    example = json.loads((stock_model / "serving_input_example.json").read_text())
    assert body["example"] == example
    split = next(v for v in body["schema"]["oneOf"] if v["title"] == "dataframe_split")
    row = split["properties"]["dataframe_split"]["properties"]["data"]["items"]
    assert len(row["prefixItems"]) == 14 and row["prefixItems"][0] == {"type": "integer"}
    assert httpx.get(server.url + "/docs").status_code == 200


def test_no_5xx_for_assorted_garbage(server):
    bodies = [
        b"",
        b"null",
        b"0",
        b'"x"',
        b"{}",
        b'{"data": 5}',
        b'{"data": [[]]}',
        b'{"data": []}',
        b'{"inputs": {"a": 1}}',
        b'{"dataframe_split": []}',
        b'{"dataframe_records": [1]}',
        b'{"data": [[1e400]]}',
        b'{"data": [[NaN]]}',
        b"\xff\xfe",
        b"[" * 100000,
        b'{"data": [[' + b",".join([b"1"] * 14) + b']], "params": 3}',
    ]
    for body in bodies:
        for ct in ("application/json", "text/csv", None):
            r = post(server, body, content_type=ct)
            assert r.status_code < 500, (body[:50], ct, r.text)
            assert r.status_code == 200 or "error_code" in r.json()


def test_numpy_answers_match_the_estimator_for_many_rows(server, stock_estimator):
    rows = np.random.default_rng(3).integers(0, 2, size=(500, 14)).tolist()
    r = post(server, {"dataframe_split": {"columns": FEATURES, "data": rows}})
    assert r.json()["predictions"] == expected(stock_estimator, rows)
