"""Shared conventions live in one module, and input rules in the Client only."""

from __future__ import annotations

import re

import pytest

from mlcadence.tracking import Client, conventions
from mlcadence.tracking.backends import clear_cache
from mlcadence.tracking.entities import Param
from mlcadence.tracking.errors import InvalidInput


@pytest.mark.parametrize(
    ("uri", "scheme"),
    [
        ("mlruns", ""),
        ("/abs/mlruns", ""),
        ("C:\\\\runs", ""),  # a drive letter is not a scheme
        ("file:///abs", "file"),
        ("sqlite:///x.db", "sqlite"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("models:/m/1", "models"),
    ],
)
def test_uri_scheme_is_read_one_way(uri, scheme):
    assert conventions.uri_scheme(uri) == scheme
    assert conventions.has_scheme(uri) is bool(scheme)


def test_location_uri_makes_paths_file_uris_and_keeps_uris(tmp_path):
    assert conventions.location_uri(str(tmp_path / "a")) == (tmp_path / "a").as_uri()
    assert conventions.location_uri("s3://bucket/x") == "s3://bucket/x"


def test_generated_run_names_have_mlflows_shape():
    for _ in range(200):
        name = conventions.random_run_name()
        assert len(name) <= conventions.MAX_GENERATED_RUN_NAME
        assert re.fullmatch(r"[a-z]+-[a-z]+-\d+", name)


def test_every_backend_creates_the_one_default_experiment(backend_uri):
    client = Client(backend_uri)
    try:
        default = client.get_experiment(conventions.DEFAULT_EXPERIMENT_ID)
        assert default.name == conventions.DEFAULT_EXPERIMENT_NAME
        with pytest.raises(InvalidInput, match="default experiment"):
            client.delete_experiment(conventions.DEFAULT_EXPERIMENT_ID)
    finally:
        clear_cache()


def test_batch_rules_are_the_clients_and_backends_trust_their_input(backend_uri):
    client = Client(backend_uri)
    try:
        run_id = client.create_run("0", run_name="r").info.run_id
        many = [Param(f"p{i}", "v") for i in range(101)]
        with pytest.raises(InvalidInput, match="at most 100 params"):
            client.log_batch(run_id, params=many)
        client.backend.log_batch(run_id, params=many)  # no limit below the Client
        assert len(client.get_run(run_id).data.params) == 101
    finally:
        clear_cache()


def test_registry_tag_rules_are_the_clients(backend_uri):
    client = Client(backend_uri)
    try:
        client.create_registered_model("m")
        long_value = "x" * 20_000  # longer than a run tag may be, fine on a model
        client.set_registered_model_tag("m", "k", long_value)
        assert client.get_registered_model("m").tags["k"] == long_value
        with pytest.raises(InvalidInput, match="None"):
            client.set_registered_model_tag("m", "k", None)
        with pytest.raises(InvalidInput, match="maximum length"):
            client.set_registered_model_tag("m", "k", "x" * 100_001)
    finally:
        clear_cache()
