"""Flow tests: every flow runs against the session's real Prefect server, with
a fresh tracking store and task cache per test."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from mlcadence import tracking


@pytest.fixture
def store(prefect_server, tracking_uri, tmp_path, monkeypatch):
    """A fresh tracking store (as MLCADENCE_TRACKING_URI) and task cache dir."""
    monkeypatch.setenv("MLCADENCE_CACHE_DIR", str(tmp_path / "cache"))
    tracking.set_tracking_uri(None)  # follow the environment
    yield tracking.Client(tracking_uri)


@pytest.fixture
def run_flow():
    """run_flow(flow, **parameters) calls an async flow the way the CLI does."""

    def run(flow, **parameters):
        return asyncio.run(flow(**parameters))

    return run


@pytest.fixture
def run_command():
    """run_command(argv, env=..., cwd=None, timeout=600) runs a command line in a
    child process as a terminal would, its output captured as text."""

    def run(argv: list[str], *, env: dict[str, str], cwd=None, timeout: float = 600):
        return subprocess.run(
            argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
        )

    return run
