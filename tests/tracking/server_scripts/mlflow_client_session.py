"""Run by tests with MLFLOW_TRACKING_URI=http://<our server> and a cwd far
from the store: the real mlflow client does a user's whole session and
prints what it saw as one JSON line."""

import json
import sys
import warnings
from pathlib import Path

import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

warnings.simplefilter("ignore")
client = MlflowClient()
out = {}

exp_id = mlflow.create_experiment("session", tags={"team": "a"})
mlflow.set_experiment(experiment_id=exp_id)
X = np.arange(40, dtype=float).reshape(20, 2)
y = X @ np.array([1.5, -2.0]) + 3.0
run_ids = []
for i in range(3):
    with mlflow.start_run(run_name=f"r{i}") as run:
        run_ids.append(run.info.run_id)
        mlflow.log_params({"a": i, "kind": "lin"})
        for step in range(4):
            mlflow.log_metric("loss", 1.0 / (step + 1) + i, step=step)
        mlflow.set_tag("t", f"v{i}")
        if i == 0:
            Path("notes.txt").write_text("hello artifacts")
            mlflow.log_artifact("notes.txt", "docs")
            out["listed"] = [(f.path, f.is_dir) for f in client.list_artifacts(run.info.run_id)]
            out["listed_docs"] = [
                (f.path, f.file_size) for f in client.list_artifacts(run.info.run_id, "docs")
            ]
            local = mlflow.artifacts.download_artifacts(
                run_id=run.info.run_id, artifact_path="docs/notes.txt", dst_path="dl"
            )
            out["downloaded"] = Path(local).read_text()
            out["artifact_uri"] = run.info.artifact_uri
            est = LinearRegression().fit(X, y)
            info = mlflow.sklearn.log_model(est, name="model", registered_model_name="x")
            out["model_id"] = info.model_id
            out["expected"] = est.predict(X).tolist()

out["run_ids"] = run_ids
out["history"] = [(m.step, m.value) for m in client.get_metric_history(run_ids[1], "loss")]
got = client.get_run(run_ids[2])
out["run2"] = {"params": got.data.params, "metrics": got.data.metrics, "tag": got.data.tags["t"]}

client.set_registered_model_alias("x", "champion", 1)
model = mlflow.pyfunc.load_model("models:/x@champion")
out["predicted"] = np.asarray(model.predict(X)).tolist()
out["logged_model_status"] = str(client.get_logged_model(out["model_id"]).status)

found = mlflow.search_runs(
    experiment_ids=[exp_id], filter_string="metrics.loss > 1.1", order_by=["params.a DESC"]
)
out["search"] = found["run_id"].tolist()

# experiments CRUD
other = client.create_experiment("scratch")
client.set_experiment_tag(other, "k", "v")
client.rename_experiment(other, "scratch2")
out["renamed"] = client.get_experiment_by_name("scratch2").experiment_id == other
client.delete_experiment(other)
out["deleted_stage"] = client.get_experiment(other).lifecycle_stage
client.restore_experiment(other)
out["restored_stage"] = client.get_experiment(other).lifecycle_stage
out["exp_tag"] = client.get_experiment(other).tags.get("k")
out["experiments"] = sorted(e.name for e in client.search_experiments())

# registry CRUD
client.create_registered_model("y", tags={"owner": "me"}, description="first")
client.update_registered_model("y", description="second")
client.set_registered_model_tag("y", "stage", "dev")
client.delete_registered_model_tag("y", "owner")
mv = client.create_model_version("y", f"runs:/{run_ids[1]}/model", run_id=run_ids[1])
client.set_model_version_tag("y", mv.version, "ok", "yes")
client.update_model_version("y", mv.version, description="v1")
client.transition_model_version_stage("y", mv.version, "Staging")
client.set_registered_model_alias("y", "challenger", mv.version)
client.rename_registered_model("y", "z")  # versions, tags and aliases move along
rm = client.get_registered_model("z")
out["registry"] = {
    "description": rm.description,
    "tags": rm.tags,
    "aliases": rm.aliases,
    "version_tags": client.get_model_version("z", mv.version).tags,
    "stage": client.get_model_version("z", mv.version).current_stage,
    "by_alias": client.get_model_version_by_alias("z", "challenger").version,
    "download_uri": client.get_model_version_download_uri("z", mv.version),
    "search": sorted(m.name for m in client.search_registered_models()),
    "versions": [v.version for v in client.search_model_versions("name='z'")],
}
client.delete_registered_model_alias("z", "challenger")
client.delete_model_version_tag("z", mv.version, "ok")
client.delete_model_version("z", mv.version)
client.delete_registered_model("z")
out["after_delete"] = sorted(m.name for m in client.search_registered_models())
client.delete_run(run_ids[2])
out["deleted_run"] = client.get_run(run_ids[2]).info.lifecycle_stage
client.restore_run(run_ids[2])
print(json.dumps(out), file=sys.stdout)
