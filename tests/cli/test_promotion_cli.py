"""`mlcadence models alias|promote|rollback` move the champion through the one
promotion path (recorded decision, champion history), against a real file
store. The Prefect event they emit is checked in tests/flows."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mlcadence import tracking
from mlcadence.cli import app
from mlcadence.pipeline import promotion
from mlcadence.tracking.backends import clear_cache

runner = CliRunner()


@pytest.fixture
def client(tracking_uri):
    client = tracking.Client(tracking_uri)
    for _ in range(3):
        client.create_model_version("clf", "/tmp/model")
    yield client
    clear_cache()


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_moving_champion_with_models_alias_is_a_recorded_promotion(client):
    cli("models", "promote", "clf", "1")
    out = cli("models", "alias", "clf", "champion", "2")
    assert out.splitlines()[0] == "clf@champion -> version 2 (was version 1)"
    tags = client.get_model_version("clf", 2).tags
    assert tags["mlcadence.gate.decision"] == "promoted"
    assert tags["mlcadence.gate.reason"] == "champion moved by hand (mlcadence models alias)"
    moves = promotion.alias_history(client, "clf")
    assert [(m.version, m.previous, m.by) for m in moves] == [(1, None, "hand"), (2, 1, "hand")]


def test_other_aliases_move_without_a_promotion_record(client):
    assert cli("models", "alias", "clf", "challenger", "3") == "clf@challenger -> version 3\n"
    assert "mlcadence.gate.decision" not in client.get_model_version("clf", 3).tags
    assert promotion.alias_history(client, "clf") == []


def test_models_rollback_returns_to_the_previous_champions_in_turn(client):
    for version in ("1", "2", "3"):
        cli("models", "promote", "clf", version)
    assert cli("models", "rollback", "clf").splitlines()[0] == (
        "clf@champion -> version 2 (was version 3)"
    )
    assert cli("models", "rollback", "clf").splitlines()[0] == (
        "clf@champion -> version 1 (was version 2)"
    )
    assert client.get_registered_model("clf").aliases == {"champion": 1}


def test_models_rollback_with_nothing_to_go_back_to_says_what_to_do(client):
    cli("models", "promote", "clf", "1")
    result = runner.invoke(app, ["models", "rollback", "clf"])
    assert result.exit_code != 0
    assert "no earlier holder" in str(result.exception)
    assert "mlcadence models promote clf VERSION" in str(result.exception)
    assert client.get_registered_model("clf").aliases == {"champion": 1}


def test_deploy_project_is_refused_without_the_docker_target(client, tmp_path):
    result = runner.invoke(app, ["deploy", "clf", "--project", str(tmp_path)])
    assert result.exit_code != 0
    assert "use it with --target docker" in str(result.exception)
