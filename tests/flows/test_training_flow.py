"""The training flow end to end against a real Prefect server and a real store."""

from __future__ import annotations

import pytest
from prefect.exceptions import ParameterTypeError

from mlcadence.flows.training import training
from mlcadence.pipeline.errors import InvalidConfig, InvalidData
from mlcadence.tasks.record import FLOW_NAME_TAG, FLOW_RUN_ID_TAG
from mlcadence.tracking.entities import RunStatus
from mlcadence.tracking.models import load_model


def experiment_runs(client, name="stockpred"):
    exp = client.get_experiment_by_name(name)
    return [] if exp is None else client.search_runs([exp.experiment_id])


def test_training_logs_registers_and_promotes(store, run_flow):
    result = run_flow(training, source="synthetic:1", register_as="demo")
    tracked = store.get_run(result.run_id)
    assert tracked.info.status == RunStatus.FINISHED
    data = tracked.data
    assert data.params["model"] == "random_forest" and data.params["n_estimators"] == "50"
    assert data.params["random_state"] == "4284" and data.params["window"] == "14"
    assert data.params["data_source"] == "synthetic:1" and data.params["data_rows"] == "1500"
    assert len(data.tags["mlcadence.dataset.digest"]) == 64
    for name in (
        "accuracy",
        "precision_label_0",
        "recall_label_1",
        "f1score_label_1",
        "baseline_accuracy",
    ):
        assert name in data.metrics
    assert data.metrics == pytest.approx(result.metrics)
    assert data.tags[FLOW_NAME_TAG] == "training" and data.tags[FLOW_RUN_ID_TAG]
    files = {f.path for f in store.list_artifacts(result.run_id, "evaluation")}
    assert {"evaluation/classification_report.txt", "evaluation/confusion_matrix.json"} <= files

    # the model: MLmodel format, signature and input example, loadable by URI
    model = load_model("models:/demo@champion")
    assert model.signature is not None
    assert list(model.predict(load_input_example(store, result.run_id))) != []

    version = store.get_model_version("demo", 1)
    assert sorted(version.aliases) == ["challenger", "champion"]
    assert version.tags["mlcadence.gate.decision"] == "promoted"
    assert version.tags["mlcadence.gate.champion_version"] == ""
    assert result.champion_changed and result.version == 1


def load_input_example(client, run_id):
    import json

    import pandas as pd

    path = client.artifact_path(run_id, "model") / "input_example.json"
    doc = json.loads(path.read_text())
    return pd.DataFrame(doc["data"], columns=doc["columns"])


def test_gate_keeps_the_champion_on_a_tie_and_decides_by_both_scores_on_the_same_days(
    store, run_flow
):
    run_flow(training, source="synthetic:1", register_as="demo", promote=True)
    again = run_flow(training, source="synthetic:1", register_as="demo")  # same data, same model
    assert again.version == 2 and not again.champion_changed
    v1, v2 = store.get_model_version("demo", 1), store.get_model_version("demo", 2)
    assert "champion" in v1.aliases and v2.aliases == ["challenger"]
    assert v2.tags["mlcadence.gate.decision"] == "rejected"
    assert v2.tags["mlcadence.gate.champion_version"] == "1"
    # the champion re-scored on the challenger's days: the same recipe scores the same
    tie = v2.tags["mlcadence.gate.champion_score"]
    assert float(tie) == float(v2.tags["mlcadence.gate.challenger_score"])
    assert float(v2.tags["mlcadence.gate.p_value"]) == 1.0
    # another estimator is promoted only when it is better on those days beyond the noise
    other = run_flow(
        training, source="synthetic:1", register_as="demo", model="logistic_regression"
    )
    tags = store.get_model_version("demo", 3).tags
    improvement = float(tags["mlcadence.gate.challenger_score"]) - float(tie)
    beyond_noise = float(tags["mlcadence.gate.p_value"]) < 0.05
    assert other.champion_changed is (improvement > 0 and beyond_noise)
    champion = store.get_registered_model("demo").aliases["champion"]
    assert champion == (3 if other.champion_changed else 1)


def test_no_register_logs_only(store, run_flow):
    result = run_flow(training, source="synthetic:2", register_as=None, window=7, split="random")
    assert result.version is None and result.decision is None
    assert store.search_registered_models() == []
    assert store.get_run(result.run_id).data.params["split"] == "random"


def test_bad_parameters_are_rejected_before_anything_runs(store, run_flow):
    for bad in ({"window": 0}, {"model": "svm"}, {"source": "s3://x"}, {"test_size": 1.5}):
        with pytest.raises(ParameterTypeError):
            run_flow(training, **bad)
    assert experiment_runs(store) == []


def test_failing_validation_fails_the_run_and_registers_nothing(store, run_flow):
    with pytest.raises(InvalidData, match="window"):
        run_flow(training, source="synthetic:3", end="2019-01-20", register_as="demo")
    (failed,) = experiment_runs(store)
    assert failed.info.status == RunStatus.FAILED
    assert store.search_registered_models() == []


def test_failing_training_task_fails_the_run(store, run_flow):
    with pytest.raises(InvalidConfig):
        run_flow(
            training, source="synthetic:3", hyperparameters={"n_estimators": -5}, register_as="demo"
        )
    (failed,) = experiment_runs(store)
    assert failed.info.status == RunStatus.FAILED
    assert store.search_registered_models() == []


def test_unknown_hyperparameter_fails_before_a_run_is_opened(store, run_flow):
    with pytest.raises(InvalidConfig, match="n_trees"):
        run_flow(training, source="synthetic:3", hyperparameters={"n_trees": 5})
    assert experiment_runs(store) == []
