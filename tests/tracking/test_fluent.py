"""The module-level tracking API: active-run stack, run lifecycle, system tags,
tracking URI resolution, resuming a run from the environment."""

from __future__ import annotations

import contextvars
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlcadence import tracking
from mlcadence.tracking import fluent
from mlcadence.tracking.backends import clear_cache
from mlcadence.tracking.entities import RunStatus
from mlcadence.tracking.errors import InvalidInput, InvalidState, NotFound


@pytest.fixture(autouse=True)
def clean_fluent_state(tracking_uri):
    """Each test starts with a fresh store, no active run, no chosen experiment."""
    tracking.set_tracking_uri(None)
    fluent._active_experiment = None
    yield tracking_uri
    while tracking.active_run() is not None:
        tracking.end_run()
    tracking.set_tracking_uri(None)
    fluent._active_experiment = None
    clear_cache()


# -- lifecycle ---------------------------------------------------------------
def test_context_manager_finishes_run():
    with tracking.start_run(run_name="ok") as run:
        assert tracking.active_run() is run
        tracking.log_param("p", 1)
    assert tracking.active_run() is None
    got = tracking.get_run(run.info.run_id)
    assert got.info.status == RunStatus.FINISHED
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.info.run_name == "ok" and got.data.params == {"p": "1"}


def test_exception_fails_run_and_propagates():
    with pytest.raises(ValueError, match="boom"):
        with tracking.start_run() as run:
            raise ValueError("boom")
    assert tracking.get_run(run.info.run_id).info.status == RunStatus.FAILED
    assert tracking.active_run() is None


def test_keyboard_interrupt_kills_run_and_propagates():
    with pytest.raises(KeyboardInterrupt):
        with tracking.start_run() as run:
            raise KeyboardInterrupt
    assert tracking.get_run(run.info.run_id).info.status == RunStatus.KILLED


def test_end_run_inside_block_is_respected():
    with tracking.start_run() as run:
        tracking.end_run("KILLED")
        assert tracking.active_run() is None
    assert tracking.get_run(run.info.run_id).info.status == RunStatus.KILLED


def test_nested_runs_tag_parent_and_unwind():
    with tracking.start_run(run_name="parent") as parent:
        with pytest.raises(InvalidState, match="nested=True"):
            tracking.start_run()
        with tracking.start_run(run_name="child", nested=True) as child:
            assert tracking.active_run() is child
        assert tracking.active_run() is parent
    child_run = tracking.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child_run.info.experiment_id == parent.info.experiment_id
    assert "mlflow.parentRunId" not in tracking.get_run(parent.info.run_id).data.tags


def test_ending_parent_ends_open_children():
    parent = tracking.start_run()
    child = tracking.start_run(nested=True)
    with pytest.raises(RuntimeError):
        with parent:
            raise RuntimeError("parent body failed")
    assert tracking.active_run() is None
    for run in (parent, child):
        assert tracking.get_run(run.info.run_id).info.status == RunStatus.FAILED


def test_system_tags():
    with tracking.start_run() as run:
        pass
    tags = tracking.get_run(run.info.run_id).data.tags
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"] == sys.argv[0]
    assert tags["mlflow.user"] and tags["mlflow.runName"] == run.info.run_name
    assert tags["mlcadence.pid"] == str(os.getpid())
    assert tags["mlcadence.host"] == socket.gethostname()
    assert tracking.get_run(run.info.run_id).info.user_id == tags["mlflow.user"]


def test_user_tags_and_description():
    with tracking.start_run(
        tags={"team": "ml", "mlflow.source.type": "JOB"}, description="why"
    ) as r:
        pass
    tags = tracking.get_run(r.info.run_id).data.tags
    assert (tags["team"], tags["mlflow.source.type"], tags["mlflow.note.content"]) == (
        "ml",
        "JOB",
        "why",
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_read_without_subprocess(tmp_path):
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    assert fluent._git_commit(str(repo / "pkg")) is None  # no commit yet
    fluent._git_commit.cache_clear()
    (repo / "pkg" / "f.py").write_text("x = 1\n")
    git("add", ".")
    git("commit", "-qm", "one")
    assert fluent._git_commit(str(repo / "pkg")) == git("rev-parse", "HEAD")
    git("pack-refs", "--all")  # the branch ref now lives only in packed-refs
    fluent._git_commit.cache_clear()
    assert fluent._git_commit(str(repo / "pkg")) == git("rev-parse", "HEAD")
    git("checkout", "-q", "--detach")
    fluent._git_commit.cache_clear()
    assert fluent._git_commit(str(repo)) == git("rev-parse", "HEAD")
    assert fluent._git_commit(str(tmp_path)) is None
    fluent._git_commit.cache_clear()


# -- logging -----------------------------------------------------------------
def test_params_are_write_once():
    with tracking.start_run() as run:
        tracking.log_params({"a": 1, "b": "x"})
        tracking.log_param("a", 1)
        with pytest.raises(InvalidInput, match="already logged"):
            tracking.log_param("a", 2)
    assert tracking.get_run(run.info.run_id).data.params == {"a": "1", "b": "x"}


def test_metrics_with_step_and_timestamp():
    with tracking.start_run() as run:
        tracking.log_metric("loss", 0.5, step=1, timestamp=1000)
        tracking.log_metric("loss", 0.25, step=2, timestamp=2000)
        tracking.log_metrics({"loss": 0.125, "acc": 0.9}, step=3)
        tracking.set_tags({"a": "1", "b": "2"})
        tracking.set_tag("c", 3)
    run_id = run.info.run_id
    history = tracking.get_metric_history(run_id, "loss")
    assert [(m.value, m.step) for m in history] == [(0.5, 1), (0.25, 2), (0.125, 3)]
    assert history[0].timestamp == 1000 and history[2].timestamp > 2000
    data = tracking.get_run(run_id).data
    assert data.metrics == {"loss": 0.125, "acc": 0.9}
    assert {k: data.tags[k] for k in "abc"} == {"a": "1", "b": "2", "c": "3"}


def test_bad_input_says_what_to_do():
    with tracking.start_run():
        with pytest.raises(InvalidInput, match="valid double"):
            tracking.log_metric("m", "abc")
        with pytest.raises(InvalidInput, match="must not resolve"):
            tracking.log_param("../x", 1)


def test_logging_without_active_run_starts_one():
    tracking.log_metric("m", 1.0)
    run = tracking.active_run()
    assert run is not None
    tracking.end_run()
    assert tracking.get_run(run.info.run_id).info.status == RunStatus.FINISHED


def test_resume_by_run_id():
    with tracking.start_run() as first:
        tracking.log_metric("m", 1.0, step=0)
    with tracking.start_run(run_id=first.info.run_id) as again:
        assert again.info.status == RunStatus.RUNNING
        tracking.log_metric("m", 2.0, step=1)
    run = tracking.get_run(first.info.run_id)
    assert run.info.status == RunStatus.FINISHED and run.data.metrics["m"] == 2.0


# -- experiments and search ------------------------------------------------------
def test_set_experiment_and_search_runs():
    experiment = tracking.set_experiment("search-me")
    for i, acc in enumerate([0.5, 0.9, 0.7]):
        with tracking.start_run(run_name=f"r{i}"):
            tracking.log_metric("acc", acc)
    assert tracking.set_experiment("search-me").experiment_id == experiment.experiment_id
    runs = tracking.search_runs(
        experiment_names=["search-me"],
        filter_string="metrics.acc > 0.6",
        order_by=["metrics.acc DESC"],
    )
    assert [r.info.run_name for r in runs] == ["r1", "r2"]
    assert all(r.info.experiment_id == experiment.experiment_id for r in runs)
    # Default scope is the active experiment.
    assert len(tracking.search_runs(max_results=2)) == 2
    with pytest.raises(NotFound, match="experiments list"):
        tracking.search_runs(experiment_names=["no-such-experiment"])


def test_set_experiment_refuses_deleted():
    experiment = tracking.set_experiment("doomed")
    tracking.Client().delete_experiment(experiment.experiment_id)
    with pytest.raises(InvalidState, match="restore"):
        tracking.set_experiment("doomed")


def test_default_experiment_when_none_chosen(monkeypatch):
    monkeypatch.delenv("MLCADENCE_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("MLCADENCE_EXPERIMENT_ID", raising=False)
    with tracking.start_run() as run:
        pass
    experiment = tracking.Client().get_experiment(run.info.experiment_id)
    assert experiment.name == "Default"


def test_experiment_name_from_settings(monkeypatch):
    monkeypatch.setenv("MLCADENCE_EXPERIMENT_NAME", "from-env")
    with tracking.start_run() as run:
        pass
    assert tracking.Client().get_experiment(run.info.experiment_id).name == "from-env"


# -- tracking URI -----------------------------------------------------------------
def test_tracking_uri_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", str(tmp_path / "a"))
    assert tracking.get_tracking_uri() == str(tmp_path / "a")
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", "sqlite:///x.db")  # read at call time
    assert tracking.get_tracking_uri() == "sqlite:///x.db"
    tracking.set_tracking_uri(tmp_path / "explicit")
    assert tracking.get_tracking_uri() == str(tmp_path / "explicit")
    tracking.set_tracking_uri(None)
    monkeypatch.delenv("MLCADENCE_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    assert tracking.get_tracking_uri() == str(tmp_path / "mlruns")
    tracking.set_tracking_uri("relative/store")
    assert tracking.get_tracking_uri() == str(tmp_path / "relative" / "store")


def test_set_tracking_uri_routes_new_runs(tmp_path):
    tracking.set_tracking_uri(tmp_path / "elsewhere")
    with tracking.start_run() as run:
        tracking.log_metric("m", 1.0)
    assert run.client.tracking_uri == str(tmp_path / "elsewhere")
    assert tracking.Client(tmp_path / "elsewhere").get_run(run.info.run_id).data.metrics == {
        "m": 1.0
    }


# -- subprocesses -------------------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import mlcadence
    with mlcadence.start_run() as run:
        mlcadence.log_metric("child_metric", 7.0)
    print(run.info.run_id)
    """
)


def test_child_process_logs_into_parent_run(tracking_uri, run_python):
    with tracking.start_run() as run:
        env = tracking.run_env()
        assert env == tracking.run_env(run.info.run_id)
        assert env["MLCADENCE_RUN_ID"] == env["MLFLOW_RUN_ID"] == run.info.run_id
        assert (
            env["MLCADENCE_EXPERIMENT_ID"] == env["MLFLOW_EXPERIMENT_ID"] == run.info.experiment_id
        )
        assert env["MLCADENCE_TRACKING_URI"] == tracking_uri
        assert env["MLFLOW_TRACKING_URI"] == Path(tracking_uri).as_uri()
        out = run_python(CHILD, **env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == run.info.run_id
    assert tracking.get_run(run.info.run_id).data.metrics == {"child_metric": 7.0}


def test_unended_run_is_finished_at_exit(tracking_uri, run_python):
    script = "import mlcadence\nrun = mlcadence.start_run()\nprint(run.info.run_id)\n"
    out = run_python(script, MLCADENCE_TRACKING_URI=tracking_uri)
    assert out.returncode == 0, out.stderr
    assert tracking.get_run(out.stdout.strip()).info.status == RunStatus.FINISHED


# -- threads -----------------------------------------------------------------------
def test_each_thread_has_its_own_active_run():
    barrier = threading.Barrier(4)
    seen: dict[int, tuple[str, str]] = {}

    def work(i):
        assert tracking.active_run() is None
        with tracking.start_run(run_name=f"t{i}") as run:
            barrier.wait(timeout=30)  # all four runs are active at once
            for step in range(20):
                tracking.log_metric("m", float(i), step=step)
            seen[i] = (run.info.run_id, tracking.active_run().info.run_id)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    assert tracking.active_run() is None
    assert len({run_id for run_id, _ in seen.values()}) == 4
    for i, (run_id, active_id) in seen.items():
        assert run_id == active_id
        history = tracking.get_metric_history(run_id, "m")
        assert [m.value for m in history] == [float(i)] * 20


def test_copied_context_sees_the_callers_run():
    """Task runners that copy the context (Prefect's do) log into the caller's run."""
    with tracking.start_run() as run:
        ctx = contextvars.copy_context()
        with ThreadPoolExecutor(2) as pool:
            seen = pool.submit(ctx.run, lambda: tracking.active_run().info.run_id).result()
            fresh = pool.submit(tracking.active_run).result()
    assert seen == run.info.run_id
    assert fresh is None


MLFLOW_CHILD = textwrap.dedent(
    """
    import mlflow
    with mlflow.start_run() as run:
        mlflow.log_metric("from_mlflow", 3.0)
    print(run.info.run_id)
    """
)


@pytest.mark.integration
def test_entry_point_written_for_mlflow_logs_into_our_run(tracking_uri, run_python):
    """run_env's MLFLOW_* variables make the real mlflow client resume our run."""
    with tracking.start_run() as run:
        out = run_python(
            MLFLOW_CHILD, timeout=300, **tracking.run_env(), MLFLOW_ALLOW_FILE_STORE="true"
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == run.info.run_id
    assert tracking.get_run(run.info.run_id).data.metrics == {"from_mlflow": 3.0}


def test_concurrent_set_experiment_agrees_on_one_experiment(race):
    ids, errors = race(lambda _: tracking.set_experiment("raced").experiment_id, 4)
    assert errors == []
    assert len(set(ids)) == 1
    assert len(tracking.Client().search_experiments(filter_string="name = 'raced'")) == 1
