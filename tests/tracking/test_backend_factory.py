"""The backend factory is the one place where settings become constructor
arguments; backends and the atomic helpers read no settings themselves."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlcadence.settings import reload_settings
from mlcadence.tracking import backends
from mlcadence.tracking.backends import atomic
from mlcadence.tracking.backends.file import FileBackend
from mlcadence.tracking.errors import UnsupportedBackend


@pytest.fixture
def fresh_cache():
    backends.clear_cache()
    yield
    backends.clear_cache()


def test_factory_passes_the_fsync_setting_to_the_file_backend(tmp_path, monkeypatch, fresh_cache):
    assert backends.get_backend(str(tmp_path / "default")).fsync is False
    monkeypatch.setenv("MLCADENCE_FILE_FSYNC", "true")
    reload_settings()
    assert backends.get_backend(str(tmp_path / "durable")).fsync is True


def test_file_backend_takes_fsync_as_a_plain_argument(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: synced.append(fd))
    FileBackend(str(tmp_path / "plain")).create_experiment("e")
    assert synced == []
    FileBackend(str(tmp_path / "durable"), fsync=True).create_experiment("e")
    assert synced


def test_atomic_helpers_fsync_only_when_asked(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: synced.append(fd))
    atomic.replace_file(str(tmp_path / "a"), "x")
    assert atomic.create_file_once(str(tmp_path / "b"), "y")
    assert synced == []
    atomic.replace_file(str(tmp_path / "c"), "x", fsync=True)
    assert atomic.create_file_once(str(tmp_path / "d"), "y", fsync=True)
    assert len(synced) == 2


def test_importing_tracking_and_its_backends_reads_no_settings():
    code = (
        "import sys, mlcadence.tracking, mlcadence.tracking.backends.file, "
        "mlcadence.tracking.backends.sql, mlcadence.tracking.backends.atomic; "
        "assert 'mlcadence.settings' not in sys.modules, 'settings imported at import time'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))


class _FakeEntryPoint:
    name = "fake"

    def __init__(self, factory):
        self._factory = factory

    def load(self):
        return self._factory


def test_plugin_builder_gets_the_uri_and_keyword_options(monkeypatch, fresh_cache):
    calls = []

    def plugin(uri, **options):
        calls.append((uri, options))
        return FileBackend.__new__(FileBackend)  # any backend object will do

    monkeypatch.setattr(
        backends, "entry_points", lambda group: [_FakeEntryPoint(plugin)] if group else []
    )
    backends.get_backend("fake://somewhere")
    assert calls == [("fake://somewhere", backends.backend_options())]
    assert set(calls[0][1]) == {
        "fsync",
        "artifact_root",
        "token",
        "retry_seconds",
        "request_timeout",
    }


def test_unknown_scheme_names_the_entry_point_group(fresh_cache):
    with pytest.raises(UnsupportedBackend, match="mlcadence.tracking_backends"):
        backends.get_backend("bogus://nowhere")


def test_tracking_uri_variable_is_read_at_call_time_over_cached_settings(tmp_path, monkeypatch):
    from mlcadence.settings import get_settings
    from mlcadence.tracking import get_tracking_uri

    monkeypatch.delenv("MLCADENCE_TRACKING_URI", raising=False)
    get_settings()  # cached now, without the variable
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", str(tmp_path / "late"))
    assert get_tracking_uri() == str(tmp_path / "late")
