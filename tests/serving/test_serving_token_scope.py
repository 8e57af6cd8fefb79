"""With a token set, the token guards everything but liveness: /invocations,
/metrics, /version, /docs and /openapi.json answer 401 without it (unless
opened on purpose), and /health tells an anonymous prober only the state and
the served version (no pid, no paths). A non-ASCII token sent as UTF-8
matches. The real app, in process."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from mlcadence.serving.app import create_app
from mlcadence.serving.model import load
from mlcadence.settings import ServingSettings
from tests.serving.flagship import BOOK_ROW, FEATURES

INFO_PATHS = ("/metrics", "/version", "/docs", "/openapi.json")


def _get_all(app, requests):
    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.request(method, path, **kw) for method, path, kw in requests]

    return asyncio.run(main())


@pytest.fixture(scope="module")
def model(stock_model):
    return load(str(stock_model))


def test_info_endpoints_need_the_token_and_health_hides_details(model):
    app = create_app(ServingSettings(token="s3cret"), model=model)
    auth = {"Authorization": "Bearer s3cret"}
    anonymous = _get_all(app, [("GET", p, {}) for p in INFO_PATHS])
    assert [r.status_code for r in anonymous] == [401] * len(INFO_PATHS)
    assert all(r.json()["error_code"] == "UNAUTHENTICATED" for r in anonymous)
    authorized = _get_all(app, [("GET", p, {"headers": auth}) for p in INFO_PATHS])
    assert [r.status_code for r in authorized] == [200] * len(INFO_PATHS)
    assert "/invocations" in authorized[3].json()["paths"]
    assert "swagger-ui" in authorized[2].text and '"/invocations"' in authorized[2].text
    ping, health, full = _get_all(
        app, [("GET", "/ping", {}), ("GET", "/health", {}), ("GET", "/health", {"headers": auth})]
    )
    assert ping.status_code == 200 and health.status_code == 200
    assert health.json() == {"status": "ok", "model": {"name": None, "version": None}}
    assert "pid" not in health.text and str(model.uri) not in health.text
    assert full.json()["pid"] > 0 and full.json()["model"]["uri"] == model.uri


def test_info_endpoints_can_be_opened_on_purpose(model):
    app = create_app(ServingSettings(token="s3cret", open_info_endpoints=True), model=model)
    responses = _get_all(app, [("GET", p, {}) for p in INFO_PATHS])
    assert [r.status_code for r in responses] == [200] * len(INFO_PATHS)
    body = json.dumps({"dataframe_split": {"columns": FEATURES, "data": [BOOK_ROW]}})
    (scored,) = _get_all(app, [("POST", "/invocations", {"content": body})])
    assert scored.status_code == 401  # scoring stays guarded


def test_a_non_ascii_token_sent_as_utf8_matches(model):
    token = "sécret-ключ"
    app = create_app(ServingSettings(token=token), model=model)
    body = json.dumps({"dataframe_split": {"columns": FEATURES, "data": [BOOK_ROW]}})
    raw = [(b"authorization", b"Bearer " + token.encode("utf-8"))]
    wrong = [(b"authorization", "Bearer sécret-ключ!".encode())]
    right, other = _get_all(
        app,
        [
            ("POST", "/invocations", {"content": body, "headers": raw}),
            ("POST", "/invocations", {"content": body, "headers": wrong}),
        ],
    )
    assert right.status_code == 200, right.text
    assert other.status_code == 401


def test_a_client_that_disconnects_mid_body_is_not_logged_as_a_server_error(model, caplog):
    app = create_app(ServingSettings(), model=model)
    sent: list[dict] = []
    chunks = [
        {"type": "http.request", "body": b'{"dataframe_split": ', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive():
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/invocations",
        "raw_path": b"/invocations",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    with caplog.at_level("DEBUG", logger="mlcadence.serving"):
        asyncio.run(app(scope, receive, send))
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 499
