"""Bad options of `train`, `retrain` and `sweep` fail before Prefect starts:
one `error:` line naming the option and what to give instead, no Prefect log
line, no pydantic dict. Each case runs the real `mlcadence` command."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from mlcadence.pipeline.errors import PipelineError


def mlcadence(*args: str) -> list[str]:
    found = shutil.which("mlcadence")
    head = [found] if found else [sys.executable, "-c", "from mlcadence.cli import main; main()"]
    return [*head, *args]


@pytest.fixture
def env(tmp_path):
    """No Prefect server configured: a check that came too late would start one."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    return {**kept, "MLCADENCE_TRACKING_URI": str(tmp_path / "mlruns")}


CASES = [
    ("train", ["--window", "0"], "--window 0", "greater than or equal to 1"),
    ("train", ["--model", "nosuch"], "--model nosuch", "'random_forest'"),
    ("train", ["--source", "csv:missing.csv"], "--source", "does not exist"),
    ("train", ["--source", "prices.csv"], "--source", "csv:PATH_OR_URL"),
    ("train", ["--source", "synthetic:x"], "--source", "synthetic:42"),
    ("train", ["--test-size", "2"], "--test-size 2.0", "less than 1"),
    ("retrain", ["--window", "400"], "--window 400", "less than or equal to 365"),
    ("retrain", ["--deploy", "now"], "--deploy now", "'event', 'inline' or 'off'"),
    ("retrain", ["--source", "csv:/no/such.csv"], "--source", "does not exist"),
    ("sweep", ["--windows", "7,0"], "--windows 0", "greater than or equal to 1"),
    ("sweep", ["--models", "random_forest,svm"], "--models svm", "'gradient_boosting'"),
    ("sweep", ["--source", "fred:"], "--source", "names no SERIES"),
]


@pytest.mark.parametrize("command,args,option,fix", CASES)
def test_bad_option_fails_in_one_line_before_prefect_starts(
    command, args, option, fix, env, tmp_path, run_command
):
    done = run_command(mlcadence(command, *args), env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == PipelineError.cli_exit_code, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: {option}") and fix in line
    assert "Prefect" not in line and "{'type'" not in line
    assert not (tmp_path / "mlruns").exists()  # nothing ran, nothing was written


def test_a_missing_csv_says_where_it_looked(env, tmp_path, run_command):
    done = run_command(
        mlcadence("train", "--source", "csv:prices.csv"), env=env, cwd=tmp_path, timeout=60
    )
    assert f"looked in {tmp_path}" in done.stderr


def test_an_unknown_hyperparameter_names_the_param_option(env, tmp_path, run_command):
    done = run_command(mlcadence("train", "-p", "n_trees=3"), env=env, cwd=tmp_path, timeout=60)
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: --param: random_forest has no hyperparameter n_trees")
