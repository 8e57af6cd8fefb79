"""The real `mlflow` package and our file backend read each other's stores."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402

from mlcadence.tracking.backends.file import FileBackend  # noqa: E402
from mlcadence.tracking.entities import Metric, Param, RunStatus, RunTag  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_mlflow(isolated_mlflow):
    yield


def mlflow_client(root: Path) -> MlflowClient:
    assert root.as_uri() == os.environ["MLFLOW_TRACKING_URI"]
    uri = root.as_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_mlflow_reads_what_we_wrote(tmp_path):
    root = tmp_path / "mlruns"
    ours = FileBackend(str(root))
    exp_id = ours.create_experiment("compat", tags={"team": "ml"})
    run = ours.create_run(exp_id, "alice", 1_700_000_000_000, "train-1", [RunTag("stage", "dev")])
    run_id = run.info.run_id
    for step in range(5):
        ours.log_metric(run_id, Metric("loss", 1.0 / (step + 1), 1_700_000_000_100 + step, step))
    ours.log_batch(
        run_id,
        metrics=[
            Metric("acc", 0.5, 1_700_000_000_200, 0),
            Metric("acc", 0.75, 1_700_000_000_300, 1),
        ],
        params=[Param("lr", "0.01"), Param("model", "rf")],
        tags=[RunTag("nested/key", "v")],
    )
    ours.log_metric(run_id, Metric("odd", math.nan, 1_700_000_000_400, 0))
    ours.update_run(run_id, RunStatus.FINISHED, 1_700_000_001_000)
    failed = ours.create_run(exp_id, "bob", 1_700_000_002_000, "broken", [])
    ours.update_run(failed.info.run_id, RunStatus.FAILED, 1_700_000_003_000)
    gone = ours.create_run(exp_id, "bob", 1_700_000_004_000, "gone", [])
    ours.delete_run(gone.info.run_id)
    dropped = ours.create_experiment("dropped")
    ours.delete_experiment(dropped)

    ours.create_registered_model("clf", tags={"owner": "me"}, description="a classifier")
    ours.create_model_version("clf", f"runs:/{run_id}/model", run_id, tags={"k": "v"})
    ours.create_model_version("clf", f"runs:/{run_id}/model", run_id)
    ours.create_model_version("clf", f"runs:/{run_id}/model", run_id)
    ours.delete_model_version("clf", 3)
    ours.set_registered_model_alias("clf", "champion", 1)
    ours.set_registered_model_alias("clf", "challenger", 2)
    ours.transition_model_version_stage("clf", 2, "Production")

    client = mlflow_client(root)

    exp = client.get_experiment(exp_id)
    assert exp.name == "compat" and exp.tags == {"team": "ml"}
    assert exp.lifecycle_stage == "active"
    assert client.get_experiment_by_name("Default").experiment_id == "0"
    names = {e.name for e in client.search_experiments(view_type=ViewType.ALL)}
    assert names == {"Default", "compat", "dropped"}
    assert client.get_experiment(dropped).lifecycle_stage == "deleted"

    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.info.start_time == 1_700_000_000_000 and got.info.end_time == 1_700_000_001_000
    assert got.info.run_name == "train-1" and got.info.user_id == "alice"
    assert got.info.artifact_uri == run.info.artifact_uri
    assert got.data.params == {"lr": "0.01", "model": "rf"}
    assert got.data.tags["stage"] == "dev" and got.data.tags["nested/key"] == "v"
    assert got.data.tags["mlflow.runName"] == "train-1"
    assert got.data.metrics["acc"] == 0.75 and got.data.metrics["loss"] == 0.2
    assert math.isnan(got.data.metrics["odd"])
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (s, 1.0 / (s + 1), 1_700_000_000_100 + s) for s in range(5)
    ]
    assert client.get_run(failed.info.run_id).info.status == "FAILED"
    assert client.get_run(gone.info.run_id).info.lifecycle_stage == "deleted"

    found = client.search_runs([exp_id], "metrics.acc > 0.6 AND params.model = 'rf'")
    assert [r.info.run_id for r in found] == [run_id]
    active = client.search_runs([exp_id], "", run_view_type=ViewType.ACTIVE_ONLY)
    assert {r.info.run_id for r in active} == {run_id, failed.info.run_id}

    rm = client.get_registered_model("clf")
    assert rm.description == "a classifier" and rm.tags == {"owner": "me"}
    assert rm.aliases == {"champion": "1", "challenger": "2"}
    v1 = client.get_model_version("clf", "1")
    assert v1.source == f"runs:/{run_id}/model" and v1.run_id == run_id
    assert v1.tags == {"k": "v"} and v1.aliases == ["champion"] and v1.current_stage == "None"
    assert client.get_model_version("clf", "2").current_stage == "Production"
    assert int(client.get_model_version_by_alias("clf", "challenger").version) == 2
    versions = client.search_model_versions("name = 'clf'")
    assert sorted(int(mv.version) for mv in versions) == [1, 2]
    assert [int(mv.version) for mv in client.get_latest_versions("clf", ["Production"])] == [2]
    assert client.get_model_version_download_uri("clf", "1") == f"runs:/{run_id}/model"
    assert [m.name for m in client.search_registered_models()] == ["clf"]


def test_we_read_what_mlflow_wrote(tmp_path):
    root = tmp_path / "mlruns"
    client = mlflow_client(root)
    exp_id = client.create_experiment("from-mlflow", tags={"t": "1"})
    run = client.create_run(exp_id, run_name="mlf-run", tags={"mlflow.user": "carol"})
    run_id = run.info.run_id
    for step in range(4):
        client.log_metric(run_id, "rmse", 10.0 - step, timestamp=1000 + step, step=step)
    client.log_param(run_id, "alpha", "0.5")
    client.set_tag(run_id, "team/sub", "x")
    client.set_terminated(run_id, "KILLED", end_time=5000)
    other = client.create_run(exp_id, run_name="other")
    client.log_metric(other.info.run_id, "rmse", 3.0)
    client.delete_run(other.info.run_id)

    client.create_registered_model("reg", tags={"a": "b"}, description="d")
    client.create_model_version("reg", f"runs:/{run_id}/model", run_id, tags={"vk": "vv"})
    client.create_model_version("reg", f"runs:/{run_id}/model", run_id)
    client.set_registered_model_alias("reg", "champion", "2")
    client.transition_model_version_stage("reg", "1", "Staging")
    client.delete_model_version("reg", "2")
    client.create_model_version("reg", f"runs:/{run_id}/model", run_id)

    ours = FileBackend(str(root))
    exp = ours.get_experiment(exp_id)
    assert exp.name == "from-mlflow" and exp.tags == {"t": "1"}
    assert ours.get_experiment_by_name("from-mlflow").experiment_id == exp_id

    got = ours.get_run(run_id)
    assert got.info.status == RunStatus.KILLED and got.info.end_time == 5000
    assert got.info.run_name == "mlf-run" and got.info.experiment_id == exp_id
    assert got.data.params == {"alpha": "0.5"}
    assert got.data.tags["team/sub"] == "x" and got.data.tags["mlflow.user"] == "carol"
    assert got.data.metrics == {"rmse": 7.0}
    history = ours.get_metric_history(run_id, "rmse")
    assert [(m.value, m.timestamp, m.step) for m in history] == [
        (10.0 - s, 1000 + s, s) for s in range(4)
    ]
    assert ours.get_run(other.info.run_id).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in ours.search_runs([exp_id], "metrics.rmse < 8")] == [run_id]
    deleted = ours.search_runs([exp_id], "", view="deleted")
    assert [r.info.run_id for r in deleted] == [other.info.run_id]

    rm = ours.get_registered_model("reg")
    assert rm.description == "d" and rm.tags == {"a": "b"}
    assert rm.aliases == {}  # deleting version 2 dropped its alias
    v1 = ours.get_model_version("reg", 1)
    assert v1.current_stage == "Staging" and v1.tags == {"vk": "vv"} and v1.run_id == run_id
    assert [mv.version for mv in ours.search_model_versions("reg")] == [3, 1]

    # And we can keep writing into MLflow's store, and MLflow reads it back.
    ours.log_metric(run_id, Metric("rmse", 1.0, 6000, 10))
    assert ours.create_model_version("reg", "runs:/x/model").version == 4
    ours.set_registered_model_alias("reg", "champion", 4)
    assert client.get_run(run_id).data.metrics["rmse"] == 1.0
    assert int(client.get_model_version_by_alias("reg", "champion").version) == 4
