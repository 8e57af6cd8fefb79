"""The example project runs our training pipeline and logs into the run the
project runner opened (local env manager; the Docker variant builds the same
entry point into an image, see README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcadence.projects import runner
from mlcadence.projects.spec import load_project
from mlcadence.tracking import Client

STOCKPRED = Path(__file__).resolve().parents[2] / "projects" / "stockpred"


def test_stockpred_spec():
    project = load_project(STOCKPRED)
    assert project.name == "stockpred"
    assert project.environment.kind == "docker_env"
    assert project.environment.docker.image == "stockpred-train:latest"
    cmd = project.get_entry_point("main").compute_command(
        {"source": "csv:/d/my prices.csv"}, STOCKPRED
    )
    assert cmd == (
        "python train.py --source 'csv:/d/my prices.csv' --window 14 --model random_forest "
        "--register-as stockpred"
    )


@pytest.mark.integration
def test_stockpred_trains_into_the_project_run(prefect_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MLCADENCE_CACHE_DIR", str(tmp_path / "cache"))
    store = str(tmp_path / "mlruns")
    lines: list[str] = []
    result = runner.run(
        str(STOCKPRED),
        env_manager="local",
        tracking_uri=store,
        output=lines.append,
        parameters={"source": "synthetic:3", "register_as": "stockpred-test"},
        raise_on_failure=False,
    )
    assert result.status == "FINISHED", "".join(lines)[-3000:]
    client = Client(store)
    run = client.get_run(result.run_id)
    assert run.data.tags["mlflow.source.type"] == "PROJECT"
    assert run.data.metrics, "the training pipeline logged no metrics into the project's run"
    versions = client.search_model_versions("name='stockpred-test'")
    assert versions and versions[0].run_id == result.run_id
