"""Model integrity under attack: a tampered model directory never runs its
code, and the bytes that were hashed are the bytes that are unpickled.

A "payload" is a pickle whose unpickling creates a marker file; each test
proves the marker never appears.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression

from mlcadence.tracking import Client
from mlcadence.tracking.errors import ModelIntegrityError
from mlcadence.tracking.models import (
    UnverifiedModelWarning,
    integrity,
    load_model,
    log_model,
    save_model,
)
from mlcadence.tracking.models.integrity import MANIFEST_FILE
from mlcadence.tracking.registry import register_model


@pytest.fixture(scope="module")
def data():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    original = LinearRegression().fit(X, [1.0, 2.0, 3.5, 4.0])
    other = LinearRegression().fit(X, [-9.0, 9.0, -9.0, 9.0])
    return X, original, other


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _payload_bytes(marker: Path) -> bytes:
    return pickle.dumps(_Payload(marker))


def _read_manifest(model_dir: Path) -> dict:
    return json.loads((model_dir / MANIFEST_FILE).read_text())


def _write_manifest(model_dir: Path, manifest: dict) -> None:
    (model_dir / MANIFEST_FILE).write_text(json.dumps(manifest))


@pytest.fixture
def model_dir(tmp_path, data):
    save_model(data[1], tmp_path / "m")
    return tmp_path / "m"


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "pwned"


def _assert_refused_without_running(uri, marker: Path, match: str, **kwargs) -> None:
    with pytest.raises(ModelIntegrityError, match=match):
        load_model(uri, **kwargs)
    assert not marker.exists(), "the payload was unpickled"


# -- item 1: an incomplete manifest is refused before anything is unpickled ----------
@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle"])
@pytest.mark.parametrize("form", ["path", "str", "file_uri"])
def test_deleted_manifest_refuses_payload_by_path_and_file_uri(tmp_path, data, marker, fmt, form):
    save_model(data[1], tmp_path / "m", serialization_format=fmt)
    model_dir = tmp_path / "m"
    (model_dir / "model.pkl").write_bytes(_payload_bytes(marker))
    (model_dir / MANIFEST_FILE).unlink()
    uri = {"path": model_dir, "str": str(model_dir), "file_uri": model_dir.as_uri()}[form]
    _assert_refused_without_running(uri, marker, "allow_unverified")


def test_deleted_manifest_refuses_payload_by_runs_uri(tmp_path, data, marker):
    client = Client(str(tmp_path / "mlruns"))
    run = client.create_run(client.create_experiment("e"))
    info = log_model(data[1], "model", run_id=run.info.run_id, client=client)
    (info.local_path / "model.pkl").write_bytes(_payload_bytes(marker))
    (info.local_path / MANIFEST_FILE).unlink()
    _assert_refused_without_running(info.model_uri, marker, "allow_unverified", client=client)


def test_model_file_dropped_from_manifest_is_refused(model_dir, marker):
    manifest = _read_manifest(model_dir)
    del manifest["files"]["model.pkl"]
    _write_manifest(model_dir, manifest)
    (model_dir / "model.pkl").write_bytes(_payload_bytes(marker))
    _assert_refused_without_running(model_dir, marker, "'model.pkl' is not listed")


def test_emptied_manifest_is_refused(model_dir, marker):
    manifest = _read_manifest(model_dir)
    manifest["files"] = {}
    _write_manifest(model_dir, manifest)
    (model_dir / "model.pkl").write_bytes(_payload_bytes(marker))
    _assert_refused_without_running(model_dir, marker, "'MLmodel' is not listed")


def test_manifest_whose_files_is_not_a_map_is_refused(model_dir, marker):
    manifest = _read_manifest(model_dir)
    manifest["files"] = []
    _write_manifest(model_dir, manifest)
    (model_dir / "model.pkl").write_bytes(_payload_bytes(marker))
    _assert_refused_without_running(model_dir, marker, "cannot be read")


def test_mlmodel_pointing_at_an_unlisted_file_is_refused(model_dir, marker):
    """MLmodel is re-pointed at an extra file and its digest updated in the
    manifest: the loader would read a file the manifest does not cover."""
    doc = yaml.safe_load((model_dir / "MLmodel").read_text())
    doc["flavors"]["sklearn"]["pickled_model"] = "extra.pkl"
    doc["flavors"]["python_function"]["model_path"] = "extra.pkl"
    (model_dir / "MLmodel").write_text(yaml.safe_dump(doc))
    (model_dir / "extra.pkl").write_bytes(_payload_bytes(marker))
    manifest = _read_manifest(model_dir)
    manifest["files"]["MLmodel"] = hashlib.sha256((model_dir / "MLmodel").read_bytes()).hexdigest()
    _write_manifest(model_dir, manifest)
    _assert_refused_without_running(model_dir, marker, "'extra.pkl' is not listed")


def test_allow_unverified_does_not_bypass_a_present_but_incomplete_manifest(model_dir, marker):
    manifest = _read_manifest(model_dir)
    del manifest["files"]["model.pkl"]
    _write_manifest(model_dir, manifest)
    (model_dir / "model.pkl").write_bytes(_payload_bytes(marker))
    _assert_refused_without_running(model_dir, marker, "not listed", allow_unverified=True)


def test_manifest_replaced_by_a_directory_is_not_taken_for_a_missing_one(model_dir, marker):
    (model_dir / MANIFEST_FILE).unlink()
    (model_dir / MANIFEST_FILE).mkdir()
    (model_dir / "model.pkl").write_bytes(_payload_bytes(marker))
    _assert_refused_without_running(model_dir, marker, "not a file")
    _assert_refused_without_running(model_dir, marker, "not a file", allow_unverified=True)


def test_registered_model_with_deleted_manifest_is_refused_even_when_unverified_allowed(
    tmp_path, data, marker
):
    client = Client(str(tmp_path / "mlruns"))
    run = client.create_run(client.create_experiment("e"))
    info = log_model(data[1], "model", run_id=run.info.run_id, client=client)
    register_model(info.model_uri, "m", client=client)
    (info.local_path / "model.pkl").write_bytes(_payload_bytes(marker))
    (info.local_path / MANIFEST_FILE).unlink()
    _assert_refused_without_running(
        "models:/m/1", marker, "registered", client=client, allow_unverified=True
    )


def test_unverified_model_loads_only_on_explicit_opt_in_and_logs_it(model_dir, data, caplog):
    X, original, _ = data
    (model_dir / MANIFEST_FILE).unlink()
    with pytest.raises(ModelIntegrityError, match="allow_unverified=True"):
        load_model(model_dir)
    with caplog.at_level(logging.WARNING), pytest.warns(UnverifiedModelWarning):
        loaded = load_model(model_dir, allow_unverified=True)
    assert not loaded.verified
    assert any("not verified" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(loaded.predict(X), original.predict(X))


def test_register_refuses_a_model_whose_manifest_omits_its_model_file(tmp_path, data):
    client = Client(str(tmp_path / "mlruns"))
    run = client.create_run(client.create_experiment("e"))
    info = log_model(data[1], "model", run_id=run.info.run_id, client=client)
    manifest = _read_manifest(info.local_path)
    del manifest["files"]["model.pkl"]
    _write_manifest(info.local_path, manifest)
    with pytest.raises(ModelIntegrityError, match="'model.pkl' is not listed"):
        register_model(info.model_uri, "m", client=client)


# -- item 2: the bytes hashed are the bytes unpickled ---------------------------------
def _swap_after_hashing(monkeypatch, watched: Path, replacement: bytes) -> None:
    """Replace `watched` on disk right after a digest of its current content
    has been computed: the window between checking and using a file."""
    original_digest = hashlib.sha256(watched.read_bytes()).hexdigest()

    class _Hasher:
        def __init__(self, data=b""):
            self._h = hashlib.sha256(data)

        def update(self, chunk):
            self._h.update(chunk)

        def hexdigest(self):
            digest = self._h.hexdigest()
            if digest == original_digest:
                watched.write_bytes(replacement)
            return digest

    monkeypatch.setattr(integrity, "hashlib", types.SimpleNamespace(sha256=_Hasher))


def _loads_original_or_is_refused(uri, data, marker: Path, **kwargs) -> None:
    """The race is lost safely: either the verified content loads, or the
    load is refused; the swapped-in content never runs."""
    X, original, _ = data
    try:
        loaded = load_model(uri, **kwargs)
    except ModelIntegrityError:
        loaded = None
    assert not marker.exists(), "swapped-in content was unpickled"
    if loaded is not None:
        np.testing.assert_allclose(loaded.predict(X), original.predict(X))


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle", "skops"])
def test_model_file_swapped_after_hashing_is_not_what_loads(tmp_path, data, monkeypatch, fmt):
    X, original, other = data
    save_model(original, tmp_path / "m", serialization_format=fmt)
    save_model(other, tmp_path / "other", serialization_format=fmt)
    filename = "model.skops" if fmt == "skops" else "model.pkl"
    _swap_after_hashing(
        monkeypatch, tmp_path / "m" / filename, (tmp_path / "other" / filename).read_bytes()
    )
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(X), original.predict(X))


def test_payload_swapped_in_after_hashing_never_runs(model_dir, data, marker, monkeypatch):
    _swap_after_hashing(monkeypatch, model_dir / "model.pkl", _payload_bytes(marker))
    _loads_original_or_is_refused(model_dir, data, marker)


def test_mlmodel_swapped_after_hashing_is_not_what_is_read(model_dir, data, marker, monkeypatch):
    doc = yaml.safe_load((model_dir / "MLmodel").read_text())
    doc["flavors"]["sklearn"]["pickled_model"] = "extra.pkl"
    doc["flavors"]["python_function"]["model_path"] = "extra.pkl"
    (model_dir / "extra.pkl").write_bytes(_payload_bytes(marker))
    _swap_after_hashing(monkeypatch, model_dir / "MLmodel", yaml.safe_dump(doc).encode())
    _loads_original_or_is_refused(model_dir, data, marker)


def test_manifest_swapped_after_the_registry_check_is_not_what_is_used(
    tmp_path, data, marker, monkeypatch
):
    """The registry pins the manifest's digest; the manifest parsed must be
    the one whose digest was compared."""
    client = Client(str(tmp_path / "mlruns"))
    run = client.create_run(client.create_experiment("e"))
    info = log_model(data[1], "model", run_id=run.info.run_id, client=client)
    register_model(info.model_uri, "m", client=client)
    # A forged manifest that blesses a payload as model.pkl.
    forged = _read_manifest(info.local_path)
    forged["files"]["model.pkl"] = hashlib.sha256(_payload_bytes(marker)).hexdigest()
    manifest_path = info.local_path / MANIFEST_FILE
    model_path = info.local_path / "model.pkl"
    _swap_after_hashing(monkeypatch, manifest_path, json.dumps(forged).encode())
    real_write = Path.write_bytes

    def also_swap_model(self, content):
        real_write(self, content)
        if self == manifest_path:  # the attacker swaps the pickle in the same window
            real_write(model_path, _payload_bytes(marker))

    monkeypatch.setattr(Path, "write_bytes", also_swap_model)
    _loads_original_or_is_refused("models:/m/1", data, marker, client=client)
