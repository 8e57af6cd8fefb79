"""Fixtures for the serving tests: the flagship model (a RandomForest of 50
trees on 14 binary lag features, as in the book) and real server processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docker_fixtures import cache_env, docker, shared_cache  # noqa: F401
from tests.serving.serving_helpers import ServerProcess, train_forest


@pytest.fixture(scope="session")
def stock_model(tmp_path_factory) -> Path:
    """The flagship model saved in MLmodel format (signature + serving example)."""
    from mlcadence.tracking.models import save_model

    est, X = train_forest()
    path = tmp_path_factory.mktemp("models") / "stockpred"
    save_model(est, str(path), input_example=X.head(2))
    return path


@pytest.fixture(scope="session")
def stock_estimator():
    return train_forest()[0]


@pytest.fixture(scope="module")
def start_server(tmp_path_factory):
    """start_server(args, env) -> a running ServerProcess, stopped after the module."""
    started: list[ServerProcess] = []
    state_dir = tmp_path_factory.mktemp("servers")

    def start(args: list[str], env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(args, env, state_dir)
        started.append(server)
        return server.wait_up()

    yield start
    for server in started:
        server.stop()
