"""The http backend's session: which failures are retried (and which are
not, because repeating them could apply a create twice), what a server that
is not a tracking server gives, and bearer tokens against our server's auth.

The flaky servers here are small stand-ins that fail on purpose; everything
that a real tracking server can show runs against `mlcadence server`."""

from __future__ import annotations

import http.server
import json
import threading
from contextlib import contextmanager

import pytest

from mlcadence.tracking import Client
from mlcadence.tracking.backends.rest import RestBackend
from mlcadence.tracking.backends.rest_http import HttpSession, RetryPolicy
from mlcadence.tracking.errors import TrackingError

pytestmark = pytest.mark.integration

EXPERIMENT = {"experiment": {"experiment_id": "7", "name": "e", "artifact_location": "x"}}


@contextmanager
def stand_in(answers: list):
    """A server answering request i with answers[i] (the last one repeats):
    (status, body, headers), or "drop" to close the connection unanswered.
    Yields (url, paths seen)."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            seen.append(self.path)
            answer = answers[min(len(seen), len(answers)) - 1]
            if answer == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            status, body, headers = answer
            data = body.encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


BUSY = (503, '{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}', {})
LIMITED = (429, "slow down", {"Retry-After": "0"})
OK = (200, json.dumps(EXPERIMENT), {"Content-Type": "application/json"})


def test_busy_and_rate_limited_answers_are_retried_until_one_succeeds():
    with stand_in([BUSY, LIMITED, BUSY, OK]) as (url, seen):
        backend = RestBackend(url, retry=RetryPolicy(total_seconds=30, first_delay=0.01))
        assert backend.get_experiment("7").name == "e"
    assert len(seen) == 4


def test_retries_stop_at_the_budget_with_the_servers_last_message():
    with stand_in([BUSY]) as (url, seen):
        backend = RestBackend(url, retry=RetryPolicy(total_seconds=0.3, first_delay=0.05))
        with pytest.raises(TrackingError) as err:
            backend.get_experiment("7")
    assert "busy" in err.value.message and err.value.error_code == "TEMPORARILY_UNAVAILABLE"
    assert len(seen) >= 2


def test_a_dropped_connection_repeats_a_read_but_never_a_create():
    with stand_in(["drop", OK]) as (url, seen):
        backend = RestBackend(url, retry=RetryPolicy(total_seconds=30, first_delay=0.01))
        assert backend.get_experiment("7").experiment_id == "7"
    assert len(seen) == 2
    with stand_in(["drop", OK]) as (url, seen):
        backend = RestBackend(url, retry=RetryPolicy(total_seconds=30, first_delay=0.01))
        with pytest.raises(TrackingError, match="Cannot reach"):
            backend.create_experiment("once")  # the server may have created it
    assert seen == ["/api/2.0/mlflow/experiments/create"]


def test_a_server_that_is_not_a_tracking_server_is_named():
    page = (200, "<html>hello</html>", {"Content-Type": "text/html"})
    with stand_in([page]) as (url, _):
        with pytest.raises(TrackingError, match="MLCADENCE_TRACKING_URI") as err:
            HttpSession(url).call("GET", "experiments/get", {"experiment_id": "1"})
    assert "not JSON" in err.value.message


def test_tokens_against_our_server_401_without_403_for_a_read_token(
    tracking_server, tmp_path, monkeypatch
):
    from mlcadence.settings import reload_settings

    writer, reader = "w-token-value", "r-token-value"
    (tmp_path / "tokens").write_text(f"{writer} write\n{reader} read\n")
    server = tracking_server(
        f"sqlite:///{tmp_path / 'auth.db'}", "--tokens-file", str(tmp_path / "tokens")
    )
    no_token = RestBackend(server.url, retry=RetryPolicy(total_seconds=0))
    with pytest.raises(TrackingError, match="MLCADENCE_TRACKING_TOKEN") as err:
        no_token.get_experiment("0")
    assert err.value.error_code == "UNAUTHENTICATED"

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", writer)  # MLflow's variable works too
    reload_settings()
    exp_id = Client(server.url).create_experiment("written")

    read_only = RestBackend(server.url, token=reader, retry=RetryPolicy(total_seconds=0))
    assert read_only.get_experiment(exp_id).name == "written"
    with pytest.raises(TrackingError, match="write scope") as err:
        read_only.create_experiment("not allowed")
    assert err.value.error_code == "PERMISSION_DENIED"
    assert writer not in server.log() and reader not in server.log()
