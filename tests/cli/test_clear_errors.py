"""What a new user sees when something is missing: the real `mlcadence`
command, one `error:` line, a non-zero status, and nothing created."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from mlcadence.serving.errors import ServingError
from mlcadence.tracking.errors import TrackingError


def mlcadence(*args: str, cwd, **env: str) -> subprocess.CompletedProcess:
    found = shutil.which("mlcadence")
    head = [found] if found else [sys.executable, "-c", "from mlcadence.cli import main; main()"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLCADENCE_")}
    return subprocess.run(
        [*head, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def error_line(done: subprocess.CompletedProcess) -> str:
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    return line


@pytest.mark.parametrize(
    "command",
    [
        ["runs", "list"],
        ["runs", "show", "0123"],
        ["experiments", "list"],
        ["models", "list"],
        ["models", "show", "stockpred"],
        ["store", "check"],
        ["serve", "-m", "models:/stockpred@champion"],
    ],
)
def test_reading_where_no_store_exists_says_where_it_looked_and_creates_nothing(command, tmp_path):
    done = mlcadence(*command, cwd=tmp_path)
    assert done.returncode == TrackingError.cli_exit_code, done.stderr
    line = error_line(done)
    assert f"no tracking store at {tmp_path / 'mlruns'}" in line
    assert "MLCADENCE_TRACKING_URI is not set" in line and "set MLCADENCE_TRACKING_URI" in line
    assert list(tmp_path.iterdir()) == []  # no empty ./mlruns left behind


def test_a_missing_store_named_by_the_variable_is_reported_as_such(tmp_path):
    store = tmp_path / "elsewhere.db"
    done = mlcadence("models", "list", cwd=tmp_path, MLCADENCE_TRACKING_URI=f"sqlite:///{store}")
    assert f"no tracking store at {store} (from MLCADENCE_TRACKING_URI)" in error_line(done)
    assert not store.exists()


def test_serving_a_model_the_registry_lacks_exits_instead_of_answering_503(tmp_path):
    (tmp_path / "mlruns").mkdir()
    done = mlcadence("serve", "-m", "models:/nosuch@champion", "--port", "0", cwd=tmp_path)
    assert done.returncode == ServingError.cli_exit_code
    line = error_line(done)
    assert "'models:/nosuch@champion' does not exist" in line
    assert "`mlcadence models list`" in line  # a command to run, not a Python call


def test_a_busy_port_names_the_port_and_the_option(tmp_path):
    (tmp_path / "mlruns").mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = mlcadence(
            "serve", "-m", "models:/nosuch@champion", "--port", str(port), cwd=tmp_path
        )
    assert done.returncode == ServingError.cli_exit_code
    assert error_line(done).startswith(f"error: port {port} is in use, choose --port")
