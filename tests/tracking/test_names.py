"""Names and keys the stores cannot hold the same way are refused by the
Client with a message that says what to change, on every backend alike."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from mlcadence.tracking import Client
from mlcadence.tracking.errors import InvalidInput, NotFound
from mlcadence.tracking.validation import validate_version


@pytest.fixture
def client(backend_uri):
    return Client(backend_uri)


@pytest.fixture
def run_id(client):
    return client.create_run(client.create_experiment("names")).info.run_id


def test_a_key_is_measured_in_utf8_bytes(client, run_id):
    """250 'ä' are 500 bytes: more than a file name may have in the file store."""
    client.log_param(run_id, "a" * 250, "fits")
    with pytest.raises(InvalidInput, match="250 bytes in UTF-8"):
        client.log_param(run_id, "ä" * 250, "too long")
    with pytest.raises(InvalidInput, match="250 bytes"):
        client.log_metric(run_id, "é" * 200, 1.0)
    assert client.get_run(run_id).data.params == {"a" * 250: "fits"}


@pytest.mark.parametrize(
    "name, message",
    [("m\x00x", "control character"), ("m\nx", "control character"), ("ü" * 200, "bytes")],
)
def test_model_names_with_control_characters_or_too_many_bytes_are_refused(client, name, message):
    with pytest.raises(InvalidInput, match=message):
        client.create_registered_model(name)
    assert client.search_registered_models() == []


def test_a_run_name_over_the_tag_limit_gets_the_same_message_everywhere(client):
    experiment = client.create_experiment("long-names")
    with pytest.raises(InvalidInput, match="maximum length of 8000 characters"):
        client.create_run(experiment, run_name="x" * 8001)
    with pytest.warns(UserWarning, match="truncated"):  # as MLflow does with tag values
        tagged = client.create_run(experiment, tags={"mlflow.runName": "x" * 8001})
    assert client.get_run(tagged.info.run_id).info.run_name == "x" * 8000
    run = client.create_run(experiment, run_name="y" * 8000)  # the limit itself fits
    assert client.get_run(run.info.run_id).info.run_name == "y" * 8000
    with pytest.raises(InvalidInput, match="maximum length"):
        client.update_run(run.info.run_id, name="z" * 8001)


@pytest.mark.parametrize("text_version", [" 1 ", "١", "0_1", "1.0", "+1", "", True])
def test_version_strings_that_int_would_accept_are_not_version_1(text_version):
    with pytest.raises(InvalidInput, match="ASCII digits"):
        validate_version(text_version)


def test_plain_version_numbers_still_work(client):
    client.create_registered_model("m")
    client.create_model_version("m", "/tmp/x")
    assert client.get_model_version("m", "1").version == 1
    assert client.get_model_version("m", 1).version == 1
    with pytest.raises(InvalidInput):
        client.get_model_version("m", " 1 ")
    with pytest.raises(NotFound):
        client.get_model_version("m", "2")


@pytest.mark.postgres
def test_a_version_1_postgres_store_is_migrated_to_long_run_names(postgres_database):
    """Schema 1 kept run names in VARCHAR(250); opening such a store widens it."""
    from mlcadence.tracking.backends import build_backend

    with postgres_database() as store_url:
        first = build_backend(store_url)
        with first._engine.begin() as conn:  # put the store back to schema 1
            conn.execute(text("ALTER TABLE runs ALTER COLUMN name TYPE VARCHAR(250)"))
            conn.execute(text("UPDATE schema_version SET version_num = 1"))
        first.close()
        client = Client(store_url)
        run = client.create_run(client.create_experiment("old"), run_name="n" * 5000)
        assert client.get_run(run.info.run_id).info.run_name == "n" * 5000


@pytest.mark.parametrize(
    "log",
    [
        lambda c, r: c.log_param(r, "p", "a\x00b"),
        lambda c, r: c.set_tag(r, "t", "a\x00b"),
        lambda c, r: c.update_run(r, name="a\x00b"),
    ],
    ids=["param", "tag", "run-name"],
)
def test_a_nul_in_a_value_is_refused_on_every_backend(client, run_id, log):
    """PostgreSQL cannot hold NUL in text, so no store takes it (one rule for all)."""
    with pytest.raises(InvalidInput, match="NUL"):
        log(client, run_id)


@pytest.mark.parametrize(
    "filter_string, message",
    [("name = 'm\x00'", "NUL"), (" AND ".join(["name LIKE 'm%'"] * 51), "at most 50")],
    ids=["nul", "51-clauses"],
)
def test_registry_searches_refuse_hostile_filters_with_invalid_input(
    client, filter_string, message
):
    with pytest.raises(InvalidInput, match=message):
        client.search_model_versions(filter_string)
    with pytest.raises(InvalidInput, match=message):
        client.search_registered_models(filter_string)
