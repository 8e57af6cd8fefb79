"""Fixtures for the projects tests."""

from tests.docker_fixtures import cache_env, docker, shared_cache  # noqa: F401
