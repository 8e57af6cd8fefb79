"""Model URI parsing and resolution, and register_model, against every
backend (file, sqlite, PostgreSQL when configured)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from mlcadence import tracking
from mlcadence.tracking import Client
from mlcadence.tracking.errors import InvalidInput, ModelIntegrityError, NotFound
from mlcadence.tracking.models import load_model, log_model, save_model
from mlcadence.tracking.models.saving import LOG_MODEL_HISTORY_TAG
from mlcadence.tracking.registry import MANIFEST_DIGEST_TAG, register_model
from mlcadence.tracking.uris import (
    ModelsUri,
    RunsUri,
    parse_models_uri,
    parse_runs_uri,
    resolve_model_uri,
)


# -- parsing (no store) ---------------------------------------------------------
@pytest.mark.parametrize(
    "uri, expected",
    [
        ("models:/m/3", ModelsUri("m", version=3)),
        ("models:/m/latest", ModelsUri("m", latest=True)),
        ("models:/m/LATEST", ModelsUri("m", latest=True)),
        ("models:/m/production", ModelsUri("m", stage="Production")),
        ("models:/m/Staging", ModelsUri("m", stage="Staging")),
        ("models:/m/none", ModelsUri("m", stage="None")),
        ("models:/m@champion", ModelsUri("m", alias="champion")),
        ("models:/m.v2@c-1", ModelsUri("m.v2", alias="c-1")),
        ("models:/m/1/sub/dir", ModelsUri("m", version=1, subpath="sub/dir")),
        ("models:/m@champion/MLmodel", ModelsUri("m", alias="champion", subpath="MLmodel")),
    ],
)
def test_parse_models_uri(uri, expected):
    assert parse_models_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "models:/",
        "models:/m",
        "models:/m/",
        "models:/@a",
        "models:/m@",
        "models://host/m/1",
        "runs:/x/model",
        "models:/m/1/../../../etc",
    ],
)
def test_malformed_models_uri_gets_mlflows_guidance(uri):
    with pytest.raises(InvalidInput) as err:
        parse_models_uri(uri)
    msg = err.value.message
    assert "models:/name/suffix" in msg or "leaves the model" in msg


def test_unknown_suffix_explains_the_choices():
    with pytest.raises(InvalidInput, match="'prod' is not a version number, a stage"):
        parse_models_uri("models:/m/prod")


def test_parse_runs_uri():
    assert parse_runs_uri("runs:/abc123/model") == RunsUri("abc123", "model")
    assert parse_runs_uri("runs:/abc123/a/b/") == RunsUri("abc123", "a/b")
    assert parse_runs_uri("runs:/abc123") == RunsUri("abc123", "")
    for bad in ["runs:/", "runs://abc/model", "runs:/abc/../../x", "runs:/a b/model"]:
        with pytest.raises(InvalidInput, match="runs:/"):
            parse_runs_uri(bad)


def test_unsupported_scheme():
    with pytest.raises(InvalidInput, match="scheme 's3' is not supported"):
        resolve_model_uri("s3://bucket/model")


def test_plain_paths_and_file_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_model_uri("rel/model").local_path == tmp_path / "rel" / "model"
    assert resolve_model_uri(str(tmp_path / "x")).local_path == tmp_path / "x"
    spaced = tmp_path / "with space"
    assert resolve_model_uri(spaced.as_uri()).local_path == spaced
    with pytest.raises(InvalidInput, match="remote host"):
        resolve_model_uri("file://otherhost/x")


# -- resolution against a store --------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1, 0, 1, 0]})
    return X, LinearRegression().fit(X, [1.0, 2.0, 3.5, 4.0])


@pytest.fixture
def store(backend_uri):
    client = Client(backend_uri)
    exp = client.create_experiment("models")
    yield client, exp
    from mlcadence.tracking.backends import clear_cache

    clear_cache()


def _logged(client, exp, fitted, **kw):
    X, model = fitted
    run = client.create_run(exp)
    info = log_model(
        model, "model", input_example=X.head(2), run_id=run.info.run_id, client=client, **kw
    )
    return info


def test_every_uri_form_resolves(store, fitted):
    client, exp = store
    X, model = fitted
    first = _logged(client, exp, fitted, registered_model_name="m")
    second = _logged(client, exp, fitted)
    assert first.registered_version == 1
    v2 = register_model(second.model_uri, "m", client=client)
    assert v2.version == 2 and v2.run_id == second.run_id and v2.source == second.model_uri
    client.set_registered_model_alias("m", "champion", 1)
    client.transition_model_version_stage("m", 2, "Staging")

    cases = {
        first.model_uri: (first.local_path, None, None),
        "models:/m/1": (first.local_path, "m", 1),
        "models:/m/2": (second.local_path, "m", 2),
        "models:/m@champion": (first.local_path, "m", 1),
        "models:/m/latest": (second.local_path, "m", 2),
        "models:/m/staging": (second.local_path, "m", 2),
        "models:/m/1/MLmodel": (first.local_path / "MLmodel", "m", 1),
        str(first.local_path): (first.local_path, None, None),
        first.local_path.as_uri(): (first.local_path, None, None),
    }
    for uri, (path, name, version) in cases.items():
        got = resolve_model_uri(uri, client)
        assert (got.local_path, got.name, got.version) == (path, name, version), uri
    assert resolve_model_uri("models:/m/1", client).run_id == first.run_id
    assert resolve_model_uri("models:/m/1", client).model_version.source == first.model_uri

    for uri in ["models:/m@champion", "models:/m/Staging", first.model_uri]:
        loaded = load_model(uri, client)
        np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    assert load_model("models:/m@champion", client).model_version.version == 1


def test_missing_targets_are_reported(store, fitted):
    client, exp = store
    info = _logged(client, exp, fitted, registered_model_name="m")
    with pytest.raises(NotFound, match="stage 'Production'"):
        resolve_model_uri("models:/m/Production", client)
    with pytest.raises(NotFound):
        resolve_model_uri("models:/nosuch/1", client)
    with pytest.raises(NotFound):
        resolve_model_uri("models:/nosuch/latest", client)
    with pytest.raises(NotFound):
        resolve_model_uri("models:/m/7", client)
    with pytest.raises(InvalidInput, match="alias"):
        resolve_model_uri("models:/m@nosuch", client)
    with pytest.raises(NotFound):
        resolve_model_uri("runs:/0123456789abcdef0123456789abcdef/model", client)
    with pytest.raises(NotFound, match="MLmodel"):
        load_model(f"runs:/{info.run_id}/elsewhere", client)


def test_source_may_itself_be_a_models_uri(store, fitted):
    client, exp = store
    info = _logged(client, exp, fitted, registered_model_name="base")
    client.set_registered_model_alias("base", "champion", 1)
    mv = register_model("models:/base@champion", "served", client=client)
    assert mv.source == "models:/base@champion" and mv.run_id == info.run_id
    got = resolve_model_uri("models:/served/1", client)
    assert got.local_path == info.local_path and (got.name, got.version) == ("served", 1)


def test_log_model_records_history_tag_and_mlmodel_run_keys(store, fitted):
    client, exp = store
    info = _logged(client, exp, fitted)
    history = json.loads(client.get_run(info.run_id).data.tags[LOG_MODEL_HISTORY_TAG])
    assert history[0]["artifact_path"] == "model" and history[0]["model_uuid"] == info.model_uuid
    meta = load_model(info.model_uri, client).metadata
    assert meta["run_id"] == info.run_id and meta["artifact_path"] == "model"
    assert info.model_uri == f"runs:/{info.run_id}/model"


def test_log_model_refuses_an_artifact_path_escaping_the_run(store, fitted):
    client, exp = store
    run = client.create_run(exp)
    with pytest.raises(InvalidInput, match="escapes|outside"):
        log_model(fitted[1], "../../evil", run_id=run.info.run_id, client=client)


# -- register_model --------------------------------------------------------------------
def test_broken_model_never_gets_a_version(store, fitted, tmp_path):
    client, exp = store
    with pytest.raises(NotFound, match="MLmodel"):
        register_model(str(tmp_path / "empty"), "m", client=client)
    (tmp_path / "notamodel").mkdir()
    with pytest.raises(NotFound, match="MLmodel"):
        register_model(str(tmp_path / "notamodel"), "m", client=client)
    info = _logged(client, exp, fitted)
    (info.local_path / "model.pkl").write_bytes(b"garbage")
    with pytest.raises(ModelIntegrityError, match="model.pkl"):
        register_model(info.model_uri, "m", client=client)
    with pytest.raises(NotFound):
        client.get_registered_model("m")


def test_register_sets_tags_description_and_pins_the_manifest(store, fitted):
    client, exp = store
    info = _logged(client, exp, fitted)
    mv = register_model(info.model_uri, "m", tags={"team": "a"}, description="first", client=client)
    got = client.get_model_version("m", mv.version)
    assert got.tags["team"] == "a" and got.description == "first"
    assert len(got.tags[MANIFEST_DIGEST_TAG]) == 64


def test_registry_pin_catches_a_wholesale_rewrite(store, fitted, tmp_path):
    """Replacing model files *and* manifest is invisible to the manifest but
    not to the digest pinned on the version."""
    client, exp = store
    X, _ = fitted
    info = _logged(client, exp, fitted, registered_model_name="m")
    other = LinearRegression().fit(X, [9.0, 9.0, 9.0, 9.0])
    save_model(other, tmp_path / "other", input_example=X.head(2))
    shutil.rmtree(info.local_path)
    shutil.copytree(tmp_path / "other", info.local_path)
    load_model(info.model_uri, client)  # the directory is self-consistent...
    with pytest.raises(ModelIntegrityError, match="registry"):
        load_model("models:/m/1", client)  # ...but not what was registered


def test_concurrent_registration_numbers_versions_once(store, fitted, race):
    client, exp = store
    info = _logged(client, exp, fitted)
    versions, errors = race(
        lambda _: register_model(info.model_uri, "conc", client=client).version, 16
    )
    assert errors == []
    assert sorted(versions) == list(range(1, 17))


def test_fluent_log_model_in_active_run(tracking_uri, fitted):
    X, model = fitted
    tracking.set_experiment("fluent-models")
    with tracking.start_run() as run:
        info = log_model(model, "clf", input_example=X.head(2), registered_model_name="fm")
    assert info.run_id == run.info.run_id
    assert info.model_uri == f"runs:/{run.info.run_id}/clf"
    assert info.registered_version == 1
    np.testing.assert_allclose(load_model("models:/fm/1").predict(X), model.predict(X))
    from mlcadence.tracking.errors import InvalidState

    with pytest.raises(InvalidState, match="start_run"):
        log_model(model, "clf2")
