"""A sqlite file made by MLflow's own SQL store is another program's database:
opening it as our SQL store is refused with a message that says what to do,
and the file is left exactly as MLflow wrote it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from mlcadence.tracking import Client
from mlcadence.tracking.errors import InvalidState


@pytest.fixture
def mlflow_sqlite(tmp_path, isolated_mlflow):
    """A sqlite store written by the real mlflow client: one experiment, one run."""
    import mlflow

    path = tmp_path / "made-by-mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}")
    experiment_id = client.create_experiment("theirs")
    client.create_run(experiment_id)
    client._tracking_client.store.engine.dispose()
    return path


def tables_and_rows(path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names
        }


def test_a_database_made_by_mlflow_is_refused_and_left_untouched(mlflow_sqlite):
    before = tables_and_rows(mlflow_sqlite)
    with pytest.raises(InvalidState) as refused:
        Client(f"sqlite:///{mlflow_sqlite}").search_experiments()
    message = str(refused.value)
    assert "MLflow's SQL store" in message and "experiments" in message
    assert "MLCADENCE_TRACKING_URI" in message and "mlflow server" in message
    assert tables_and_rows(mlflow_sqlite) == before
    assert "schema_version" not in before


def test_the_cli_names_the_problem_in_one_line(mlflow_sqlite):
    done = subprocess.run(
        [sys.executable, "-c", "from mlcadence.cli import main; main()", "experiments", "list"],
        env={"MLCADENCE_TRACKING_URI": f"sqlite:///{mlflow_sqlite}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: This database already holds tables of MLflow's SQL store")
    assert "Traceback" not in done.stderr
