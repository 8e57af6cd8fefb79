"""Flow tests: every flow runs against the session's real Prefect server, with
a fresh tracking store and task cache per test."""

from __future__ import annotations

import asyncio

import pytest

from mlcadence import tracking


@pytest.fixture
def store(prefect_server, tracking_uri, tmp_path, monkeypatch):
    """A fresh tracking store (as MLCADENCE_TRACKING_URI) and task cache dir."""
    monkeypatch.setenv("MLCADENCE_CACHE_DIR", str(tmp_path / "cache"))
    tracking.set_tracking_uri(None)  # follow the environment
    yield tracking.Client(tracking_uri)


def run(flow, **parameters):
    """Call an async flow the way the CLI does."""
    return asyncio.run(flow(**parameters))
