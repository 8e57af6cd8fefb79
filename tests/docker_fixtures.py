"""Docker fixtures shared by the project-run and deploy-target tests: an
engine with the base image (or a skip saying how to get one) and one wheel
cache per module. Test modules import the fixtures they use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _docker_or_skip():
    try:
        from mlcadence.containers.docker import docker_client

        client = docker_client()
    except Exception as exc:  # no engine: these tests cannot run here
        pytest.skip(f"no Docker engine: {exc}")
    from mlcadence.settings import get_settings

    base = get_settings().docker_base_image
    try:
        client.images.get(base)
    except Exception:
        pytest.skip(f"base image {base} missing: run scripts/docker-base-image.sh")
    return client


@pytest.fixture(scope="module")
def docker():
    return _docker_or_skip()


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One wheel cache for the module: wheels are made once, as in real use.
    MLCADENCE_TEST_DOCKER_CACHE keeps it across sessions (pip's own cache is
    kept across sessions too; this is the same idea one level up)."""
    keep = os.environ.get("MLCADENCE_TEST_DOCKER_CACHE")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return tmp_path_factory.mktemp("docker-cache")


@pytest.fixture
def cache_env(shared_cache, monkeypatch):
    monkeypatch.setenv("MLCADENCE_CACHE_DIR", str(shared_cache))
    from mlcadence.settings import reload_settings

    reload_settings()
    yield shared_cache
    monkeypatch.undo()
    reload_settings()
