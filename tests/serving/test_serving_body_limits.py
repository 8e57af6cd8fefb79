"""Request bodies that decode to far more than they weigh on the wire: row and
decoded-size limits for every format, checked before the body is decoded, and
parsing off the event loop so one big body does not stall other requests."""

from __future__ import annotations

import io
import json
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.serving.flagship import FEATURES

pytestmark = pytest.mark.integration

PARQUET = "application/vnd.apache.parquet"
TIGHT_ROWS = 1000
TIGHT_DECODED = 64 * 1024


def zero_parquet(rows: int, columns: list[str] = FEATURES) -> bytes:
    """`rows` rows of zeros: a few KiB on the wire, rows x columns x 8 bytes decoded."""
    buf = io.BytesIO()
    frame = pd.DataFrame(np.zeros((rows, len(columns)), dtype=np.int64), columns=columns)
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def split_json(rows: list[list]) -> bytes:
    return json.dumps({"dataframe_split": {"columns": FEATURES, "data": rows}}).encode()


def assert_limit_error(response: httpx.Response, setting: str) -> None:
    assert response.status_code == 413, response.text[:300]
    body = response.json()
    assert body["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert setting in body["message"], body["message"]


@pytest.fixture(scope="module")
def default_server(start_server, stock_model):
    return start_server(["-m", str(stock_model)])


@pytest.fixture(scope="module")
def tight_server(start_server, stock_model):
    env = {
        "MLCADENCE_SERVING_MAX_ROWS": str(TIGHT_ROWS),
        "MLCADENCE_SERVING_MAX_DECODED_BYTES": str(TIGHT_DECODED),
    }
    return start_server(["-m", str(stock_model)], env)


def test_parquet_bomb_is_refused_by_the_default_row_limit_before_decoding(default_server):
    body = zero_parquet(300_000)
    assert len(body) < 64 * 1024  # small on the wire
    started = time.monotonic()
    response = httpx.post(
        default_server.url + "/invocations",
        content=body,
        headers={"Content-Type": PARQUET},
        timeout=60,
    )
    assert_limit_error(response, "MLCADENCE_SERVING_MAX_ROWS")
    assert "300000" in response.json()["message"]
    assert time.monotonic() - started < 2.0


def test_parquet_over_the_decoded_size_limit_is_refused(tight_server):
    rows = 900  # under the row limit; 900 x 14 x 8 bytes decoded is over 64 KiB
    response = httpx.post(
        tight_server.url + "/invocations",
        content=zero_parquet(rows),
        headers={"Content-Type": PARQUET},
        timeout=30,
    )
    assert_limit_error(response, "MLCADENCE_SERVING_MAX_DECODED_BYTES")


def test_json_over_the_row_limit_is_refused(tight_server):
    response = httpx.post(
        tight_server.url + "/invocations",
        content=split_json([[0] * 14] * (TIGHT_ROWS + 1)),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert_limit_error(response, "MLCADENCE_SERVING_MAX_ROWS")


def test_json_records_over_the_row_limit_are_refused(tight_server):
    records = [{"lag_0": 0}] * (TIGHT_ROWS + 1)  # refused before columns are checked
    response = httpx.post(
        tight_server.url + "/invocations",
        content=json.dumps({"dataframe_records": records}).encode(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert_limit_error(response, "MLCADENCE_SERVING_MAX_ROWS")


def test_json_over_the_decoded_size_limit_is_refused(tight_server):
    body = split_json([[0.123456789012345] * 14] * 200)  # 200 rows, under the row limit
    body = body.replace(b"0.123456789012345", b"0.1234567890123456789012345678901")
    assert len(body) > TIGHT_DECODED
    response = httpx.post(
        tight_server.url + "/invocations",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert_limit_error(response, "MLCADENCE_SERVING_MAX_DECODED_BYTES")


def test_csv_over_the_row_limit_is_refused(tight_server):
    lines = [",".join(FEATURES)] + [",".join(["0"] * 14)] * (TIGHT_ROWS + 1)
    response = httpx.post(
        tight_server.url + "/invocations",
        content="\n".join(lines).encode(),
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )
    assert_limit_error(response, "MLCADENCE_SERVING_MAX_ROWS")


@pytest.mark.parametrize("content_type", ["application/json", "text/csv", PARQUET])
def test_bodies_at_the_row_limit_are_scored(tight_server, content_type):
    rows = 500 if content_type == PARQUET else TIGHT_ROWS  # parquet: 500 x 14 x 8 < 64 KiB
    frame = pd.DataFrame(np.ones((rows, 14), dtype=np.int64), columns=FEATURES)
    if content_type == PARQUET:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        body = buf.getvalue()
    elif content_type == "text/csv":
        body = frame.to_csv(index=False).encode()
    else:
        body = split_json(frame.to_numpy().tolist())
    response = httpx.post(
        tight_server.url + "/invocations",
        content=body,
        headers={"Content-Type": content_type},
        timeout=30,
    )
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["predictions"]) == rows


@pytest.fixture(scope="module")
def roomy_server(start_server, stock_model):
    """Limits raised so a big body really is parsed (the limits are tested above)."""
    env = {
        "MLCADENCE_SERVING_MAX_ROWS": str(10_000_000),
        "MLCADENCE_SERVING_MAX_DECODED_BYTES": str(4 * 1024**3),
    }
    return start_server(["-m", str(stock_model)], env)


def test_ping_answers_while_a_big_parquet_body_is_parsed(roomy_server):
    # Columns the model does not know: the body is parsed in full, then refused,
    # which keeps the test's CPU cost to the parse this test is about.
    body = zero_parquet(200_000, [f"other_{i}" for i in range(14)])
    outcome: dict = {}

    def post() -> None:
        outcome["response"] = httpx.post(
            roomy_server.url + "/invocations",
            content=body,
            headers={"Content-Type": PARQUET},
            timeout=120,
        )

    sender = threading.Thread(target=post)
    latencies = []
    with httpx.Client(timeout=30) as client:
        client.get(roomy_server.url + "/ping")  # connection open before the parse starts
        sender.start()
        time.sleep(0.1)  # the body is on the server (a few KiB)
        deadline = time.monotonic() + 20
        while sender.is_alive() and len(latencies) < 20 and time.monotonic() < deadline:
            started = time.monotonic()
            assert client.get(roomy_server.url + "/ping").status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)
    sender.join(timeout=120)
    assert outcome["response"].status_code == 400, outcome["response"].text[:300]
    assert len(latencies) >= 3, "the parse ended before /ping could be measured"
    assert max(latencies) < 0.5, latencies
