"""The backend interface is two narrow ABCs, a run store and a registry store;
the built-in backends implement both and the Client uses each for its half."""

from __future__ import annotations

import pytest

from mlcadence.tracking import Client, backends
from mlcadence.tracking.backends.base import RegistryStore, RunStore, TrackingBackend
from mlcadence.tracking.backends.file import FileBackend
from mlcadence.tracking.errors import UnsupportedBackend


def test_run_and_registry_interfaces_are_disjoint_and_small():
    runs, registry = RunStore.__abstractmethods__, RegistryStore.__abstractmethods__
    assert not runs & registry
    assert "search_runs" in runs and "create_model_version" in registry
    assert len(runs) <= 20 and len(registry) <= 20


def test_builtin_backends_implement_both_stores():
    from mlcadence.tracking.backends.sql import SqlBackend

    for backend_class in (FileBackend, SqlBackend):
        assert issubclass(backend_class, RunStore)
        assert issubclass(backend_class, RegistryStore)
        assert issubclass(backend_class, TrackingBackend)


def _run_only_store(inner: FileBackend) -> RunStore:
    """A RunStore without a registry, delegating to a file backend."""

    def delegate(name):
        return lambda self, *args, **kwargs: getattr(inner, name)(*args, **kwargs)

    methods = {name: delegate(name) for name in RunStore.__abstractmethods__}
    store = type("RunOnlyStore", (RunStore,), methods)()
    store.uri = inner.uri
    return store


def test_client_runs_on_a_run_only_backend_and_explains_missing_registry(tmp_path, monkeypatch):
    store = _run_only_store(FileBackend(str(tmp_path / "mlruns")))
    monkeypatch.setitem(backends.BUILDERS, "runonly", lambda uri, **options: store)
    try:
        client = Client("runonly://x")
        run = client.create_run("0", run_name="plain")
        client.log_metric(run.info.run_id, "m", 1.0)
        assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}
        with pytest.raises(UnsupportedBackend, match="no model registry"):
            client.create_registered_model("model")
    finally:
        backends.clear_cache()


def test_sql_backend_halves_each_implement_one_interface_completely():
    from mlcadence.tracking.backends.sql_registry import SqlRegistryStore
    from mlcadence.tracking.backends.sql_runs import SqlRunStore

    assert issubclass(SqlRunStore, RunStore) and not issubclass(SqlRunStore, RegistryStore)
    assert issubclass(SqlRegistryStore, RegistryStore) and not issubclass(
        SqlRegistryStore, RunStore
    )
    assert not SqlRunStore.__abstractmethods__
    assert not SqlRegistryStore.__abstractmethods__
