"""`mlcadence train` from a terminal: summary, one-line errors, and a process
killed mid-run (its RUNNING run is reaped to FAILED, nothing is registered)."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from typer.testing import CliRunner

from mlcadence.cli import app, main
from mlcadence.pipeline.errors import PipelineError
from mlcadence.tracking.entities import RunStatus
from mlcadence.tracking.errors import TrackingError


@pytest.fixture(autouse=True)
def fresh_prefect_logging():
    """Prefect's console handler keeps the stream it was created with; CliRunner
    swaps (and closes) stderr per invocation, so rebuild the handlers each test."""
    from prefect.logging.configuration import setup_logging

    setup_logging(incremental=False)
    yield


def mlcadence_command() -> list[str]:
    found = shutil.which("mlcadence")
    return [found] if found else [sys.executable, "-c", "from mlcadence.cli import main; main()"]


def json_summary(*args: str) -> dict:
    """`mlcadence ARGS --json` in-process: asserts success, returns the summary."""
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


def test_train_prints_a_summary(store):
    summary = json_summary("train", "--source", "synthetic:8", "--register-as", "cli")
    assert summary["version"] == 1 and summary["decision"]["outcome"] == "promoted"
    assert store.get_run(summary["run_id"]).info.status == RunStatus.FINISHED
    text = CliRunner().invoke(
        app, ["train", "--source", "synthetic:8", "--register-as", "cli", "-q"]
    )
    assert text.exit_code == 0
    assert "registered cli version 2" in text.stdout and "not promoted" in text.stdout


def test_sweep_and_retrain_commands_pass_their_options_to_the_flows(store):
    summary = json_summary(
        *["sweep", "-q", "--source", "synthetic:8", "--windows", "5,10"],
        *["--models", "random_forest", "--register-as", "cli-sweep"],
    )
    assert {row["window"] for row in summary["extra"]["candidates"]} == {5, 10}
    assert summary["registered_name"] == "cli-sweep" and summary["version"] == 1
    summary = json_summary(
        *["retrain", "-q", "--source", "synthetic:8", "--register-as", "cli-sweep"],
        *["--window", "6", "--deploy", "off"],
    )
    assert summary["params"]["window"] == 6 and summary["version"] == 2
    assert summary["decision"] is not None  # retraining always gates
    bad = CliRunner().invoke(app, ["sweep", "-q", "--windows", "5,x"])
    assert bad.exit_code == 1 and "--windows must be int values" in bad.stderr


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """`mlcadence ARGS` through `main()`, the one error handler a terminal
    gets: (exit status, stderr)."""
    monkeypatch.setattr(sys, "argv", ["mlcadence", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    return exited.value.code or 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "args,message,status",
    [
        (["--source", "nope:1"], "--source", 6),  # checked before Prefect starts
        (["--window", "0"], "--window", 6),
        (["--source", "synthetic:8", "--end", "2019-01-10"], "widen the date range", 6),
        (["--source", "csv:/no/such/file.csv"], "does not exist", 6),
        (["--param", "n_trees=3"], "n_trees", 6),
    ],
)
def test_errors_exit_with_the_familys_status_and_one_clear_line(
    store, monkeypatch, capsys, args, message, status
):
    exit_status, stderr = run_main(monkeypatch, capsys, "train", "-q", *args)
    assert exit_status == status
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]


def test_a_tracking_error_from_a_flow_exits_with_the_tracking_status(store, monkeypatch, capsys):
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", "bogus://store")  # no backend has that scheme
    exit_status, stderr = run_main(monkeypatch, capsys, "train", "-q", "--source", "synthetic:8")
    assert exit_status == TrackingError.cli_exit_code == 3
    assert len([line for line in stderr.splitlines() if line.startswith("error:")]) == 1


@pytest.mark.integration
def test_a_failing_task_shows_its_message_not_a_traceback(store, tracking_uri, run_command):
    """In a real terminal: progress lines, then one error line; no traceback
    for an error whose message says what to do."""
    env = {**os.environ, "MLCADENCE_TRACKING_URI": tracking_uri}
    done = run_command(
        [*mlcadence_command(), "train", "--source", "synthetic:8", "--end", "2019-01-10"],
        env=env,
        timeout=300,
    )
    assert done.returncode == PipelineError.cli_exit_code == 6
    output = done.stdout + done.stderr
    assert "Task run 'validate" in output  # progress is visible
    assert "Traceback" not in output
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "widen the date range" in errors[0]


class HangingCSV(http.server.BaseHTTPRequestHandler):
    """Accepts the request and never answers: a data source stuck mid-download."""

    release = threading.Event()

    def do_GET(self):  # noqa: N802
        self.release.wait(120)

    def log_message(self, *args):
        pass


@pytest.mark.integration
def test_killed_process_leaves_a_run_that_reap_marks_failed(
    store, tracking_uri, tmp_path, run_command
):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HangingCSV)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/prices.csv"
    mlcadence = mlcadence_command()
    env = {**os.environ, "MLCADENCE_TRACKING_URI": tracking_uri}
    proc = subprocess.Popen(
        [*mlcadence, "train", "-q", "--source", f"csv:{url}", "--register-as", "killed"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        running = []
        while time.monotonic() < deadline and not running:
            exp = store.get_experiment_by_name("stockpred")
            if exp is not None:
                running = store.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")
            time.sleep(0.5)
        assert running, "the training run never started"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        HangingCSV.release.set()
        server.shutdown()
        server.server_close()
    (stuck,) = running
    assert store.get_run(stuck.info.run_id).info.status == RunStatus.RUNNING
    reap = run_command([*mlcadence, "runs", "reap"], env=env, timeout=120)
    assert reap.returncode == 0, reap.stderr
    assert store.get_run(stuck.info.run_id).info.status == RunStatus.FAILED
    assert store.search_registered_models() == []


@pytest.mark.integration
def test_readme_main_job_works_offline_without_a_prefect_server(tmp_path, run_command):
    """`mlcadence train --source synthetic:42` on a machine with no Prefect
    server configured and an empty Prefect home: it starts a local Prefect
    server, says so, and the next command reuses it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLCADENCE_"))}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        HOME=str(tmp_path / "home"),
        MLCADENCE_TRACKING_URI=str(tmp_path / "mlruns"),
        MLCADENCE_CACHE_DIR=str(tmp_path / "cache"),
    )
    try:
        done = run_command(
            [*mlcadence_command(), "train", "--source", "synthetic:42"], env=env, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "registered stockpred version 1" in done.stdout
        assert "PROMOTED to champion" in done.stdout
        # says what it started, where its log is, and how it ends
        assert "Starting a local Prefect server" in done.stderr
        assert "mlcadence down" in done.stderr
        again = run_command(
            [*mlcadence_command(), "train", "--source", "synthetic:42"], env=env, cwd=tmp_path
        )
        assert again.returncode == 0, again.stderr[-3000:]
        assert "Starting a local Prefect server" not in again.stderr
    finally:
        run_command([*mlcadence_command(), "down"], env=env, timeout=120)
