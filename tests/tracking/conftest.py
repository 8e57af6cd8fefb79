"""Fixtures for the tracking tests."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.http_fixtures import live_server, live_tracking_uri, mlflow_server  # noqa: F401

# `tracking_server`: a real `mlcadence server` subprocess (see server_fixtures).
from tests.tracking.server_fixtures import tracking_server  # noqa: F401


@pytest.fixture
def race():
    """race(call, count) runs call(i) for i in range(count) on `count` threads
    released together by a barrier, so the calls really overlap. Returns
    (results, errors): what the calls returned and what they raised, so a
    test can assert on both instead of losing an exception inside a thread."""

    def run(call, count: int) -> tuple[list, list[Exception]]:
        barrier = threading.Barrier(count)

        def one(i):
            barrier.wait(timeout=60)
            try:
                return True, call(i)
            except Exception as exc:  # noqa: BLE001 - handed to the test
                return False, exc

        with ThreadPoolExecutor(count) as pool:
            outcome = list(pool.map(one, range(count)))
        results = [value for ok, value in outcome if ok]
        errors = [value for ok, value in outcome if not ok]
        return results, errors

    return run


@pytest.fixture
def isolated_mlflow(tmp_path, monkeypatch):
    """The real mlflow client pointed at tmp_path: MLflow's registry store
    opens a default MlflowClient() for every version it reads (to look up a
    logged model), so point that at our store too, and run from tmp_path so
    nothing (e.g. ./mlflow.db) lands in the checkout."""
    import warnings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield
