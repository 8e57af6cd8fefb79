"""Settings are cached per process (`get_settings()`): a test that changes an
MLCADENCE_ variable must not leave its values behind for the next one."""

from __future__ import annotations

import pytest

from mlcadence.settings import reload_settings


@pytest.fixture(autouse=True)
def _fresh_settings():
    # Autouse fixtures are set up first and torn down last, so this reload
    # runs after monkeypatch has restored the environment.
    reload_settings()
    yield
    reload_settings()
