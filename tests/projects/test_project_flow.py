"""The `project` flow runs an entry point as a Prefect flow run."""

from __future__ import annotations

import pytest

from mlcadence.tracking import Client

pytestmark = pytest.mark.integration


def test_project_flow_runs_entry_point(prefect_server, tmp_path, monkeypatch):
    from mlcadence.flows.project import project

    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "MLproject").write_text(
        "entry_points:\n  main:\n    parameters: {n: {type: float, default: 1}}\n"
        "    command: 'echo n={n}'\n"
    )
    monkeypatch.setenv("MLCADENCE_CACHE_DIR", str(tmp_path / "cache"))
    store = str(tmp_path / "mlruns")
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", store)
    result = project(str(tmp_path / "p"), parameters={"n": "4"}, env_manager="local")
    assert result["status"] == "FINISHED" and result["command"] == "echo n=4"
    run = Client(store).get_run(result["run_id"])
    assert run.data.params == {"n": "4"}
    assert run.data.tags["mlflow.source.type"] == "PROJECT"
