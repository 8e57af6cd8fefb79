"""Property-based fuzzing of POST /invocations: whatever a client sends, the
answer is never a 5xx, and every error is MLflow's error JSON.

Thousands of requests run in-process (ASGI, fast); a smaller run goes over
real HTTP to a real server process."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcadence.serving.app import create_app
from mlcadence.serving.model import from_estimator
from mlcadence.settings import ServingSettings
from tests.serving.flagship import BOOK_ROW, FEATURES

SIGNATURE = {
    "signature": {
        "inputs": json.dumps([{"type": "long", "name": n, "required": True} for n in FEATURES])
    }
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(FEATURES),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.sampled_from(FEATURES)), inner, max_size=6
        ),
    ),
    max_leaves=40,
)
rows = st.lists(
    st.lists(st.one_of(st.integers(-3, 3), scalars), min_size=0, max_size=16), max_size=5
)
shaped = st.one_of(
    st.fixed_dictionaries(
        {
            "dataframe_split": st.fixed_dictionaries(
                {"data": rows},
                optional={
                    "columns": st.lists(st.sampled_from(FEATURES + ["x"]), max_size=16),
                    "index": json_values,
                    "extra": json_values,
                },
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "dataframe_records": st.lists(
                st.dictionaries(
                    st.sampled_from(FEATURES + ["x"]), st.one_of(st.integers(0, 1), scalars)
                ),
                max_size=4,
            )
        }
    ),
    st.fixed_dictionaries({"instances": st.one_of(rows, json_values)}),
    st.fixed_dictionaries(
        {"inputs": st.one_of(rows, json_values)}, optional={"params": json_values}
    ),
    st.fixed_dictionaries(
        {"data": st.one_of(rows, json_values)}, optional={"columns": json_values}
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "dataframe_split",
                "inputs",
                "instances",
                "data",
                "params",
                "dataframe_records",
                "columns",
            ]
        ),
        json_values,
        max_size=4,
    ),
    json_values,
)
bodies = st.one_of(
    shaped.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
)
content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "text/csv",
            "application/json; charset=utf-8",
            "application/vnd.apache.parquet",
            "text/plain",
            "APPLICATION/JSON",
            "application/json; charset=latin-1",
            "application/json; format=split",
            "",
            ";",
            "multipart/form-data; boundary=x",
        ]
    ),
    # Any printable header value a client library will send.
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30).map(str.strip),
)


def check(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        body = response.json()
        assert set(body) >= {"error_code", "message"}, body
    else:
        assert "predictions" in response.json()


@pytest.fixture(scope="module")
def client(stock_estimator):
    """The app in-process over ASGI on one event loop (no threads, no sockets):
    ~1 ms a request, so thousands of requests fit in a fast test."""
    app = create_app(
        ServingSettings(max_body_bytes=4096, timeout=30),
        model=from_estimator(stock_estimator, metadata=SIGNATURE),
    )
    loop = asyncio.new_event_loop()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fuzz")

    def post(body: bytes, content_type: str | None):
        headers = {} if content_type is None else {"Content-Type": content_type}
        return loop.run_until_complete(http.post("/invocations", content=body, headers=headers))

    yield post
    loop.run_until_complete(http.aclose())
    loop.close()


# 1000 examples x 3 content types = 3000 requests.
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, types=st.lists(content_types, min_size=3, max_size=3))
def test_no_5xx_in_process(client, body, types):
    for content_type in types:
        check(client(body, content_type))


def test_valid_rows_always_score(client):
    assert client(json.dumps({"data": [BOOK_ROW]}).encode(), None).status_code == 200


@pytest.mark.integration
def test_no_5xx_over_real_http(start_server, stock_model):
    server = start_server(["-m", str(stock_model), "--max-body-bytes", "4096"])
    with httpx.Client(base_url=server.url, timeout=30) as http:

        @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=bodies, content_type=content_types)
        def run(body, content_type):
            headers = {} if content_type is None else {"Content-Type": content_type}
            check(http.post("/invocations", content=body, headers=headers))

        run()
