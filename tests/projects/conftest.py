"""Fixtures for the projects tests."""

import textwrap
from pathlib import Path

import pytest

from tests.docker_fixtures import cache_env, docker, shared_cache  # noqa: F401


@pytest.fixture
def write_files():
    """write_files(root, {relative path: text}) writes a project tree (texts
    dedented, so they can be indented in the test) and returns root."""

    def write(root: Path, files: dict[str, str]) -> Path:
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return root

    return write
