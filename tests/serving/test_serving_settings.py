"""The server's settings: one pydantic-settings object read at the entry
points, handed to worker processes through its own environment variables."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mlcadence.serving.errors import InvalidSetting
from mlcadence.serving.server import parse_args
from mlcadence.serving.settings import read_settings
from mlcadence.settings import ServingSettings


def test_every_serving_setting_is_described():
    assert all(f.description for f in ServingSettings.model_fields.values())


def test_environment_then_explicit_values(monkeypatch):
    monkeypatch.setenv("MLCADENCE_SERVING_BATCH_MAX_SIZE", "8")
    monkeypatch.setenv("MLCADENCE_SERVING_TIMEOUT", "5")
    settings = read_settings(timeout=9.5, port=None)
    assert settings.batch_max_size == 8  # from the environment
    assert settings.timeout == 9.5  # given wins
    assert settings.port == ServingSettings.model_fields["port"].default  # None = not given


def test_as_environment_recreates_the_settings_in_another_process(monkeypatch):
    original = ServingSettings(
        model_uri="models:/m@champion", workers=3, token="t", fast_path=False, reuse_port=True
    )
    for key, value in original.as_environment().items():
        monkeypatch.setenv(key, value)
    assert read_settings() == original


def test_a_bad_value_names_the_option_and_the_variable():
    with pytest.raises(InvalidSetting, match="--batch-max-size / MLCADENCE_SERVING_BATCH_MAX_SIZE"):
        read_settings(batch_max_size=0)


def test_server_arguments_override_the_environment(monkeypatch):
    monkeypatch.setenv("MLCADENCE_SERVING_WORKERS", "4")
    settings = parse_args(["-m", "x", "--port", "0", "--reuse-port", "--admin-port", "0"])
    assert (settings.model_uri, settings.port, settings.workers) == ("x", 0, 4)
    assert settings.reuse_port is True and settings.admin_port == 0
    assert settings.access_log is False


def test_serve_help_shows_defaults_and_variables_from_the_settings():
    from mlcadence.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "default: 64; env MLCADENCE_SERVING_BATCH_MAX_SIZE" in result.output
    assert ServingSettings.model_fields["timeout"].description in result.output
