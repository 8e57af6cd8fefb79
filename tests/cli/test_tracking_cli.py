"""`mlcadence runs|experiments|models` against a real file store."""

from __future__ import annotations

import json
import os
import textwrap
import time

import pytest
from typer.testing import CliRunner

from mlcadence import tracking
from mlcadence.cli import app
from mlcadence.tracking.backends import clear_cache
from mlcadence.tracking.entities import Metric, RunStatus

runner = CliRunner()


@pytest.fixture
def client(tracking_uri):
    yield tracking.Client(tracking_uri)
    clear_cache()


def cli(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def runs(client):
    exp = client.create_experiment("cli-exp")
    ids = {}
    for name, acc in (("low", 0.2), ("high", 0.9), ("mid", 0.6)):
        run = client.create_run(exp, run_name=name)
        client.log_batch(run.info.run_id, metrics=[Metric("acc", acc, 1, 0)])
        client.log_param(run.info.run_id, "model", "rf")
        client.set_terminated(run.info.run_id)
        ids[name] = run.info.run_id
    return exp, ids


def test_runs_list_filter_order_max(runs):
    _, ids = runs
    out = cli(
        "runs", "list", "--experiment", "cli-exp", "--filter", "metrics.acc > 0.5",
        "--order-by", "metrics.acc DESC", "--max", "1", "--json",
    )  # fmt: skip
    listed = json.loads(out)
    assert [r["info"]["run_id"] for r in listed] == [ids["high"]]
    assert listed[0]["info"]["status"] == "FINISHED"
    table = cli("runs", "list", "-e", "cli-exp", "-o", "metrics.acc ASC")
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["RUN_ID", "EXPERIMENT", "NAME", "STATUS"]
    assert [line.split()[0] for line in lines[1:]] == [ids["low"], ids["mid"], ids["high"]]
    assert {line.split()[1] for line in lines[1:]} == {"cli-exp"}  # the name, not the id


def test_runs_list_defaults_to_all_experiments(runs, client):
    other = client.create_experiment("other")
    extra = client.create_run(other, run_name="elsewhere").info.run_id
    listed = json.loads(cli("runs", "list", "--json"))
    assert {r["info"]["run_id"] for r in listed} == {extra, *runs[1].values()}


def test_runs_show(runs):
    _, ids = runs
    shown = json.loads(cli("runs", "show", ids["mid"], "--json"))
    assert shown["data"]["params"] == {"model": "rf"}
    assert shown["data"]["metrics"] == {"acc": 0.6}
    text = cli("runs", "show", ids["mid"])
    assert "acc = 0.6" in text and "status      FINISHED" in text
    assert f"experiment  cli-exp (id {runs[0]})" in text


def test_errors_are_one_line_and_exit_nonzero(tracking_uri, run_python):
    out = run_python(
        "from mlcadence.cli import main; main()",
        *("runs", "show", "f" * 32),
        MLCADENCE_TRACKING_URI=tracking_uri,
    )
    assert out.returncode == 3  # the tracking family's exit status
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr


def test_experiments_list(runs):
    exp, _ = runs
    listed = json.loads(cli("experiments", "list", "--json"))
    assert exp in [e["experiment_id"] for e in listed]
    assert "cli-exp" in cli("experiments", "list")


# -- reap ------------------------------------------------------------------------
ORPHAN = textwrap.dedent(
    """
    import os, mlcadence
    run = mlcadence.start_run(run_name="orphan")
    print(run.info.run_id, flush=True)
    os._exit(0)  # dies without ending its run, as a SIGKILL would
    """
)


def test_runs_reap_marks_dead_owners_failed(client, tracking_uri, run_python):
    out = run_python(ORPHAN, check=True, MLCADENCE_TRACKING_URI=tracking_uri)
    orphan = out.stdout.strip()
    assert client.get_run(orphan).info.status == RunStatus.RUNNING
    live = tracking.start_run(run_name="alive")  # owned by this (living) process
    exp = client.get_run(orphan).info.experiment_id
    hours_ago = int(time.time() * 1000) - 3 * 3600 * 1000
    ownerless = client.create_run(exp, run_name="ownerless", start_time=hours_ago).info.run_id
    try:
        text = cli("runs", "reap", "--dry-run")
        assert "1 run(s) would reap" in text
        assert client.get_run(orphan).info.status == RunStatus.RUNNING

        text = cli("runs", "reap")
        assert "1 run(s) reaped" in text
        assert client.get_run(orphan).info.status == RunStatus.FAILED
        assert client.get_run(live.info.run_id).info.status == RunStatus.RUNNING
        assert client.get_run(ownerless).info.status == RunStatus.RUNNING

        cli("runs", "reap", "--older-than", "2h")  # no owner recorded: age decides
        assert client.get_run(ownerless).info.status == RunStatus.FAILED
        assert client.get_run(live.info.run_id).info.status == RunStatus.RUNNING
    finally:
        tracking.end_run()


def test_reap_sees_reused_pid_as_gone(client, runs):
    from mlcadence.tracking.reaper import HOST_TAG, PID_START_TAG, PID_TAG, owner_state, owner_tags

    mine = owner_tags()
    assert owner_state(mine) == "alive"
    if PID_START_TAG in mine:  # Linux: a different start time means another process
        assert owner_state({**mine, PID_START_TAG: "1"}) == "gone"
    assert owner_state({PID_TAG: str(os.getpid()), HOST_TAG: "some-other-host"}) == "unknown"
    assert owner_state({}) == "unknown"


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200)])
def test_duration_parsing(text, seconds):
    from mlcadence.cli.tracking_cmds import parse_duration

    assert parse_duration(text) == seconds


# -- models ----------------------------------------------------------------------
@pytest.fixture
def model(client):
    for _ in range(3):
        client.create_model_version("clf", "/tmp/model")
    return "clf"


def test_models_alias_and_promote(client, model):
    assert "clf@champion -> version 1" in cli("models", "alias", model, "champion", "1")
    assert client.get_model_version_by_alias(model, "champion").version == 1
    out = cli("models", "promote", model, "3", "--stage", "Production")
    assert "clf@champion -> version 3 (was version 1)" in out
    assert client.get_model_version_by_alias(model, "champion").version == 3
    assert client.get_model_version(model, 3).current_stage == "Production"
    cli("models", "promote", model, "2", "--alias", "challenger")
    assert client.get_model_version_by_alias(model, "challenger").version == 2
    cli("models", "alias", model, "challenger", "--delete")
    assert client.get_registered_model(model).aliases == {"champion": 3}


def test_models_promote_missing_version_changes_nothing(client, model):
    result = runner.invoke(app, ["models", "promote", model, "9"])
    assert result.exit_code != 0
    assert client.get_registered_model(model).aliases == {}


def test_models_list_and_show(client, model):
    client.set_registered_model_alias(model, "champion", 2)
    listed = cli("models", "list")
    assert listed.splitlines()[1].split()[:3] == ["clf", "3", "champion->v2"]
    shown = json.loads(cli("models", "show", model, "--json"))
    assert shown["model"]["aliases"] == {"champion": 2}
    assert [v["version"] for v in shown["versions"]] == [3, 2, 1]
    assert "champion" in cli("models", "show", model)


def test_models_show_gives_each_versions_window_and_feature_count(client):
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mlcadence.tracking.models import log_model

    tracking.set_experiment("lags")
    for window in (3, 5):
        X = pd.DataFrame([[i % 2, (i // 2) % 2] * window for i in range(8)]).iloc[:, :window]
        X.columns = [f"lag_{i}" for i in range(window)]
        with tracking.start_run():
            tracking.log_params({"window": window})
            fitted = LogisticRegression().fit(X, [i % 2 for i in range(8)])
            log_model(fitted, "model", input_example=X.head(2), registered_model_name="lagged")
    client.create_model_version("lagged", "/nonexistent/model")  # no run, no files
    lines = cli("models", "show", "lagged").splitlines()
    header = lines[3].split()
    assert header[:5] == ["VERSION", "STAGE", "ALIASES", "WINDOW", "FEATURES"]
    rows = {line.split()[0]: line.split()[3:5] for line in lines[4:]}
    assert rows == {"1": ["3", "3"], "2": ["5", "5"], "3": ["-", "-"]}
