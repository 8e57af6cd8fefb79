"""Shared fixtures: isolated Prefect home, one real Prefect server per session,
and tracking URIs for every backend (file, sqlite, PostgreSQL when
MLCADENCE_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

# Prefect reads its settings when first imported, so isolate it before any test
# module imports it: a private PREFECT_HOME, no telemetry, no ephemeral server
# started behind our back (tests that need one ask for `prefect_server`).
_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="mlcadence-prefect-home-"))
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"


# Variables the test run itself provides; every other MLCADENCE_ variable of
# the caller's shell is removed so that no test writes into a real store.
_KEPT_VARIABLES = {"MLCADENCE_TEST_POSTGRES_URL"}


MLFLOW_RUN_CONTEXT = (
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_TOKEN",
)


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch):
    """Every test starts as a new process would: no MLCADENCE_ variables from
    the caller, settings read anew, no tracking URI set in code, no active run
    or experiment, no cached backend; and leaves it so for the next test."""
    from mlcadence.settings import reload_settings
    from mlcadence.tracking import fluent
    from mlcadence.tracking.backends import clear_cache

    for name in list(os.environ):
        if name.startswith("MLCADENCE_") and name not in _KEPT_VARIABLES:
            monkeypatch.delenv(name)
    # mlflow.set_experiment exports MLFLOW_EXPERIMENT_ID into os.environ; a
    # child process of a later test would then start runs in that experiment.
    for name in MLFLOW_RUN_CONTEXT:
        monkeypatch.delenv(name, raising=False)
    reload_settings()
    fluent.reset_process_state()
    # Code under test may set variables itself (`train --quiet` run in-process
    # sets PREFECT_LOGGING_LEVEL, as a CLI process may); none outlive the test.
    before = dict(os.environ)
    yield
    fluent.reset_process_state()
    clear_cache()
    if dict(os.environ) != before:
        os.environ.clear()
        os.environ.update(before)
    monkeypatch.undo()
    reload_settings()


@pytest.fixture(scope="session")
def prefect_server():
    """One real Prefect API server (subprocess, SQLite) for the whole session.

    Its URL is exported in os.environ as well, so subprocesses (workers, the
    CLI) reach the same server. Yields the API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = PREFECT_API_URL.value()
        old = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = url
        try:
            yield url
        finally:
            if old is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = old


@contextmanager
def _postgres_database():
    """A throwaway database on the test server, as a URL; dropped afterwards."""
    import psycopg

    base = os.environ["MLCADENCE_TEST_POSTGRES_URL"]
    name = "mlc_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base.rpartition('/')[0]}/{name}"
    finally:
        from mlcadence.tracking.backends import clear_cache

        clear_cache()
        _drop_database(base, name)


def _drop_database(base: str, name: str) -> None:
    # WITH (FORCE) ends our own sessions, but a non-superuser may not end an
    # autovacuum worker that a busy new database attracts: wait for it briefly.
    import psycopg

    for _ in range(80):
        try:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            time.sleep(0.25)
    raise RuntimeError(f"test database {name} could not be dropped (still in use)")


@pytest.fixture
def postgres_database():
    """postgres_database() -> a context manager yielding the URL of a new,
    empty database that is dropped on exit (skips without a test server)."""
    if not os.environ.get("MLCADENCE_TEST_POSTGRES_URL"):
        pytest.skip("MLCADENCE_TEST_POSTGRES_URL is not set")
    return _postgres_database


BACKEND_KINDS = ["file", "sqlite", "postgresql"]


@pytest.fixture(params=BACKEND_KINDS)
def backend_uri(request, tmp_path):
    """A fresh, empty store of each backend kind. PostgreSQL runs only when
    MLCADENCE_TEST_POSTGRES_URL is set (CI sets it)."""
    kind = request.param
    if kind == "file":
        yield str(tmp_path / "mlruns")
    elif kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'mlcadence.db'}"
    else:
        if not os.environ.get("MLCADENCE_TEST_POSTGRES_URL"):
            pytest.skip("MLCADENCE_TEST_POSTGRES_URL is not set")
        with _postgres_database() as url:
            yield url


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch):
    """A fresh file store made the process default for one test."""
    uri = str(tmp_path / "mlruns")
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", uri)
    yield uri


@pytest.fixture
def run_python():
    """run_python(code, *argv, **env) runs `python -c code` in a child process with
    this test's environment plus `env`, as a user's script would run: mlcadence
    comes from the installation, nothing is added to the path."""

    def run(code: str, *argv: str, timeout: float = 120, check: bool = False, **env: str):
        return subprocess.run(
            [sys.executable, "-c", code, *argv],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    return run


@pytest.fixture
def fred_server():
    """fred_server(body, status=200, fail_first=0) is a context manager serving
    `body` as a local FRED stand-in (the first `fail_first` requests get a 503);
    it yields (the CSV URL, the request paths seen)."""

    @contextmanager
    def serve(body: str, status: int = 200, fail_first: int = 0):
        requests_seen: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                requests_seen.append(self.path)
                failing = len(requests_seen) <= fail_first
                data = b"busy" if failing else body.encode()
                self.send_response(503 if failing else status)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/graph/fredgraph.csv", requests_seen
        finally:
            server.shutdown()
            server.server_close()

    return serve


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI every service is provided (PostgreSQL, Docker, the base image), so
    a skip there means lost coverage: report it as a failure instead."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every service is provided: {reason}"
