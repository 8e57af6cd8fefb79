"""The plain helpers behind the Prefect tasks: model card, leaderboard rows,
artifact keys, sweep rows, lineage tags, what gets logged, retry policy.
Called directly: none of them needs a Prefect server."""

from __future__ import annotations

import subprocess

import pytest

from mlcadence import tracking
from mlcadence.pipeline import estimators, evaluation, sources
from mlcadence.pipeline.errors import DataUnavailable, InvalidSource
from mlcadence.pipeline.features import prepare
from mlcadence.pipeline.gate import decide
from mlcadence.pipeline.results import TrainingResult
from mlcadence.tasks import artifacts, data, record, registry
from mlcadence.tasks.sweep import Candidate


@pytest.fixture
def client(tracking_uri):
    tracking.set_tracking_uri(None)  # follow the environment
    yield tracking.Client(tracking_uri)
    tracking.set_tracking_uri(None)


def a_result(**changes) -> TrainingResult:
    fields = dict(
        run_id="r" * 32,
        experiment_id="1",
        model_uri="runs:/rrr/model",
        metrics={"accuracy": 0.61234567, "baseline_accuracy": 0.5},
        dataset={"source": "synthetic:1", "start": "2019-01-01", "end": "2023-02-08"}
        | {"rows": "1500", "digest": "ab" * 32},
        params={"model": "random_forest", "window": 14},
    )
    return TrainingResult(**(fields | changes))


@pytest.mark.parametrize(
    "parts,key",
    [
        (("stockpred", "metrics"), "stockpred-metrics"),
        (("My_Model.v2", "model-card"), "my-model-v2-model-card"),
        (("a b", "c/d!"), "a-b-c-d"),
    ],
)
def test_artifact_key_keeps_only_what_prefect_keys_allow(parts, key):
    assert artifacts.artifact_key(*parts) == key


def test_model_card_of_a_promoted_version_names_the_champion_and_the_reason():
    decision = decide("accuracy", 0.61234567, None).as_dict()
    card = artifacts.model_card("demo", a_result(version=3, decision=decision))
    assert card.startswith("# demo v3\n")
    assert "- model URI: `models:/demo/3`" in card and "- alias: **champion**" in card
    assert "| accuracy | 0.6123 |" in card and "| window | 14 |" in card
    assert "sha256 `abababababababab…`" in card
    assert "**promoted**: no champion yet" in card


def test_model_card_of_a_rejected_version_says_challenger():
    decision = decide("accuracy", 0.5, 0.6, champion_version=1).as_dict()
    card = artifacts.model_card("demo", a_result(version=2, decision=decision))
    assert "- alias: **challenger**" in card and "**rejected**" in card


def test_model_card_of_an_unregistered_run_has_no_model_uri_or_gate():
    card = artifacts.model_card("stockpred", a_result())
    assert card.startswith(f"# run {'r' * 32} (not registered)")
    assert "- model URI: -" in card and "- alias: **-**" in card
    assert "Promotion gate" not in card


def test_leaderboard_rows_rank_versions_by_the_metric_unscored_last(client):
    experiment_id = client.create_experiment("board")
    client.create_registered_model("board")
    for accuracy in (0.55, None, 0.7):
        run_id = client.create_run(experiment_id).info.run_id
        if accuracy is not None:
            client.log_metric(run_id, "accuracy", accuracy)
        client.create_model_version("board", "/tmp/model", run_id=run_id)
    client.set_registered_model_alias("board", "champion", 3)
    client.set_model_version_tag("board", 3, "mlcadence.gate.decision", "promoted")
    rows = artifacts.leaderboard_rows("board", "accuracy")
    assert [(r["version"], r["accuracy"]) for r in rows] == [(3, 0.7), (1, 0.55), (2, None)]
    assert rows[0]["aliases"] == "champion" and rows[0]["gate"] == "promoted"
    assert len(artifacts.leaderboard_rows("board", "accuracy", size=1)) == 1


def test_leaderboard_of_an_unknown_model_is_empty(client):
    assert artifacts.leaderboard_rows("nobody", "accuracy") == []


def test_sweep_candidate_row_rounds_the_scores_it_shows():
    metrics = {"accuracy": 0.123456789, "baseline_accuracy": 0.5, "f1score_label_1": 0.3333333333}
    candidate = Candidate("c" * 32, 7, "random_forest", {}, metrics, None, None)
    assert candidate.row("f1score_label_1") == {
        "run_id": "c" * 32,
        "model": "random_forest",
        "window": 7,
        "f1score_label_1": 0.333333,
        "accuracy": 0.123457,
        "baseline_accuracy": 0.5,
    }


def test_git_commit_of_a_repository_and_of_a_plain_folder(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert record.git_commit(plain) is None
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert record.git_commit(repo) == head


def test_lineage_tags_outside_a_flow_run_hold_only_the_code_commit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a repository: the package's own checkout is used
    tags = record.lineage_tags()
    assert record.FLOW_RUN_ID_TAG not in tags and record.DEPLOYMENT_TAG not in tags
    assert set(tags) <= {record.GIT_COMMIT_TAG}


def test_log_helpers_write_params_evaluation_and_a_loadable_model(client):
    from mlcadence.tracking.models import load_model

    split = prepare(sources.load("synthetic:3").frame, window=5)
    fitted = estimators.fit("logistic_regression", None, split.X_train, split.y_train)
    scored = evaluation.evaluate(fitted, split.X_test, split.y_test, split.y_train)
    with tracking.start_run() as run:
        record.log_params({"window": 5, "empty": None})
        record.log_evaluation(scored)
        model_uri = record.log_fitted_model(fitted, split)
    logged = client.get_run(run.run_id).data
    assert logged.params == {"window": "5", "empty": ""}
    assert logged.metrics["accuracy"] == scored.metrics["accuracy"]
    files = {f.path for f in client.list_artifacts(run.run_id, "evaluation")}
    assert files == {"evaluation/classification_report.txt", "evaluation/confusion_matrix.json"}
    assert len(load_model(model_uri).predict(split.X_test.head(3))) == 3


@pytest.mark.parametrize(
    "error,retried",
    [
        (DataUnavailable("FRED is down"), True),
        (InvalidSource("no such file"), False),
        (ValueError("bug"), False),
    ],
)
def test_acquire_retries_only_network_errors(error, retried):
    from prefect.states import Failed

    assert data._retry_only_network_errors(None, None, Failed(data=error)) is retried


def test_acquire_retries_a_failure_whose_error_cannot_be_read_back():
    # Seen in the full suite: the failed state's exception was not readable
    # from the result store, and the network error was not retried.
    class Unreadable:
        def result(self, raise_on_failure: bool = True):
            raise RuntimeError("the result store could not give the exception back")

    assert data._retry_only_network_errors(None, None, Unreadable()) is True


def test_cached_tasks_persist_under_the_cache_dir_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCADENCE_CACHE_DIR", str(tmp_path / "cache"))
    acquire, prepare_task = data.with_cache_storage(data.acquire, data.prepare)
    assert (tmp_path / "cache").is_dir()
    assert acquire.name == "acquire" and prepare_task.name == "prepare"
    assert str(acquire.result_storage) == str(tmp_path / "cache")


def test_promotion_event_resource_is_the_registered_model():
    assert registry.model_resource_id("stockpred") == "mlcadence.model.stockpred"
