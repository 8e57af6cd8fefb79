"""Real project runs: local (with the real `mlflow` client logging into our
run), virtualenv (created once, reused, isolated), git URIs, failures, and
the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlcadence.projects import runner
from mlcadence.projects.errors import (
    EnvironmentUnavailable,
    ExecutionFailed,
    InvalidParameters,
    InvalidProject,
)
from mlcadence.tracking import Client


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Project caches (git clones, venvs) under this test's tmp dir."""
    monkeypatch.setenv("MLCADENCE_CACHE_DIR", str(tmp_path / "cache"))
    from mlcadence.settings import reload_settings

    reload_settings()
    yield tmp_path / "cache"
    monkeypatch.undo()
    reload_settings()


MLFLOW_PROJECT = {
    "MLproject": """
        name: mlflow-logging
        entry_points:
          main:
            parameters:
              alpha: {type: float, default: 0.5}
              label: {type: string, default: "a b"}
            command: "python train.py --alpha {alpha} --label {label}"
          fail:
            command: "python -c 'import sys; print(\\"going down\\"); sys.exit(3)'"
    """,
    "train.py": """
        import argparse, os, mlflow
        p = argparse.ArgumentParser()
        p.add_argument("--alpha", type=float)
        p.add_argument("--label")
        p.add_argument("--extra")
        a = p.parse_args()
        assert os.environ["MLCADENCE_RUN_ID"] == os.environ["MLFLOW_RUN_ID"]
        mlflow.log_metric("score", a.alpha * 2)
        mlflow.log_param("label_seen", a.label)
        print("trained with", a.alpha, a.label, a.extra)
    """,
}


@pytest.mark.integration
def test_local_run_with_real_mlflow_logs_into_the_same_run(
    tmp_path, write_files, cache, monkeypatch
):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    project = write_files(tmp_path / "proj", MLFLOW_PROJECT)
    store = str(tmp_path / "mlruns")
    lines: list[str] = []
    result = runner.run(
        str(project),
        parameters={"alpha": "0.25", "extra": "x y"},
        experiment="projects-test",
        run_name="named",
        tracking_uri=store,
        output=lines.append,
    )
    assert result.status == "FINISHED" and result.exit_code == 0
    assert any("trained with 0.25 a b x y" in line for line in lines)  # streamed
    run = Client(store).get_run(result.run_id)
    assert run.info.status.name == "FINISHED"
    assert run.data.metrics == {"score": 0.5}  # logged by the real mlflow client
    assert run.data.params == {"alpha": "0.25", "label": "a b", "extra": "x y", "label_seen": "a b"}
    tags = run.data.tags
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.env"] == "local"
    assert tags["mlflow.project.backend"] == "local"
    assert tags["mlflow.source.name"] == str(project)
    assert tags["mlflow.runName"] == "named"
    experiment = Client(store).get_experiment(result.experiment_id)
    assert experiment.name == "projects-test"


def test_failing_entry_point_marks_run_failed(tmp_path, write_files, cache):
    project = write_files(tmp_path / "proj", MLFLOW_PROJECT)
    store = str(tmp_path / "mlruns")
    lines: list[str] = []
    with pytest.raises(ExecutionFailed) as info:
        runner.run(str(project), entry_point="fail", tracking_uri=store, output=lines.append)
    assert info.value.exit_code == 3
    assert Client(store).get_run(info.value.run_id).info.status.name == "FAILED"
    assert any("going down" in line for line in lines)


def test_bad_parameters_open_no_run(tmp_path, write_files, cache):
    project = write_files(tmp_path / "proj", MLFLOW_PROJECT)
    store = str(tmp_path / "mlruns")
    with pytest.raises(InvalidParameters):
        runner.run(str(project), parameters={"alpha": "abc"}, tracking_uri=store)
    assert _no_runs(store)


def test_script_entry_point_in_subdirectory(tmp_path, write_files, cache):
    write_files(tmp_path / "repo", {"sub/job.sh": 'echo "job got $@"\n'})
    lines: list[str] = []
    result = runner.run(
        f"{tmp_path / 'repo'}#sub",
        entry_point="job.sh",
        parameters={"k": "v w"},
        tracking_uri=str(tmp_path / "mlruns"),
        output=lines.append,
    )
    assert result.status == "FINISHED"
    assert any("job got --k v w" in line for line in lines)
    tags = Client(str(tmp_path / "mlruns")).get_run(result.run_id).data.tags
    assert tags["mlflow.source.name"] == f"{tmp_path / 'repo'}#sub"


def _git(*args, cwd):
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@x",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@x",
    )
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def test_git_uri_at_commit_and_branch(tmp_path, write_files, cache):
    repo = write_files(
        tmp_path / "repo",
        {
            "proj/MLproject": "entry_points:\n  main:\n    command: cat version.txt\n",
            "proj/version.txt": "one\n",
        },
    )
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-qm", "one", cwd=repo)
    first = _git("rev-parse", "HEAD", cwd=repo)
    _git("checkout", "-qb", "feature", cwd=repo)
    (repo / "proj/version.txt").write_text("two\n")
    _git("commit", "-qam", "two", cwd=repo)
    second = _git("rev-parse", "HEAD", cwd=repo)
    store = str(tmp_path / "mlruns")
    uri = f"file://{repo}#proj"
    for version, expected, commit, branch in (
        (first, "one", first, None),
        ("feature", "two", second, "feature"),
    ):
        lines: list[str] = []
        result = runner.run(uri, version=version, tracking_uri=store, output=lines.append)
        assert any(line.strip() == expected for line in lines)
        tags = Client(store).get_run(result.run_id).data.tags
        assert tags["mlflow.source.git.commit"] == commit
        assert tags.get("mlflow.source.git.branch") == branch
        assert tags["mlflow.source.git.repoURL"] == f"file://{repo}"
    with pytest.raises(InvalidProject, match="not a commit, branch or tag"):
        runner.run(uri, version="no-such-branch", tracking_uri=store)


def test_version_on_plain_directory_is_an_error(tmp_path, write_files, cache):
    write_files(tmp_path / "p", {"MLproject": "entry_points: {main: {command: echo}}\n"})
    with pytest.raises(InvalidProject, match="git"):
        runner.run(str(tmp_path / "p"), version="abc", tracking_uri=str(tmp_path / "mlruns"))


def test_conda_without_conda_is_a_clear_error(tmp_path, write_files, cache, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("MLFLOW_CONDA_HOME", raising=False)
    write_files(
        tmp_path / "p",
        {
            "MLproject": "conda_env: conda.yaml\nentry_points: {main: {command: echo}}\n",
            "conda.yaml": "name: x\ndependencies: [python=3.11]\n",
        },
    )
    with pytest.raises(EnvironmentUnavailable, match="conda"):
        runner.run(str(tmp_path / "p"), tracking_uri=str(tmp_path / "mlruns"))


def test_python_env_project_with_conda_is_rejected(tmp_path, write_files, cache):
    write_files(
        tmp_path / "p",
        {
            "MLproject": "entry_points: {main: {command: echo}}\n",
            "python_env.yaml": "dependencies: []\n",
        },
    )
    with pytest.raises(InvalidProject, match="cannot be executed using conda"):
        runner.run(str(tmp_path / "p"), env_manager="conda", tracking_uri=str(tmp_path / "m"))


CLI = [sys.executable, "-c", "from mlcadence.cli import main; main()"]

VENV_PROJECT = {
    "MLproject": """
        name: venv-project
        python_env: python_env.yaml
        entry_points:
          main:
            command: "python check.py"
    """,
    "python_env.yaml": """
        python: "{py}"
        build_dependencies: []
        dependencies: ["-r requirements.txt"]
    """,
    "requirements.txt": "six\n",
    "check.py": """
        import sys, six
        print("prefix", sys.prefix)
        try:
            import sklearn  # on the host, not in the project's environment
        except ImportError:
            print("isolated")
    """,
}


@pytest.mark.integration
def test_virtualenv_created_once_reused_and_isolated(tmp_path, write_files, cache):
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    files = {k: v.replace("{py}", py) for k, v in VENV_PROJECT.items()}
    project = write_files(tmp_path / "proj", files)
    store = str(tmp_path / "mlruns")
    prefixes = []
    outputs = []
    for _ in range(2):
        lines: list[str] = []
        result = runner.run(str(project), tracking_uri=store, output=lines.append)
        assert result.status == "FINISHED" and result.env_manager == "virtualenv"
        text = "".join(lines)
        outputs.append(text)
        assert "isolated" in text
        prefixes.append(next(ln.split()[1] for ln in text.splitlines() if ln.startswith("prefix")))
    assert prefixes[0] == prefixes[1] and prefixes[0].startswith(str(cache))
    assert "Creating virtualenv" in outputs[0] and "Creating virtualenv" not in outputs[1]
    assert Client(store).get_run(result.run_id).data.tags["mlflow.project.env"] == "virtualenv"
    # A changed requirements file is a different environment.
    (project / "requirements.txt").write_text("six\nidna\n")
    lines = []
    runner.run(str(project), tracking_uri=store, output=lines.append)
    assert "Creating virtualenv" in "".join(lines)


@pytest.mark.integration
def test_cli_project_run(tmp_path, write_files, cache):
    write_files(
        tmp_path / "p",
        {
            "MLproject": """
        entry_points:
          main:
            parameters: {n: {type: float, default: 1}}
            command: "echo n={n}"
    """
        },
    )
    store = str(tmp_path / "mlruns")
    env = dict(os.environ, MLCADENCE_TRACKING_URI=store)
    ok = subprocess.run(
        [
            *CLI,
            "project",
            "run",
            str(tmp_path / "p"),
            "-P",
            "n=2.5",
            "-P",
            "x=y",
            "--env-manager",
            "local",
            "--run-name",
            "cli",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    assert "n=2.5 --x y" in ok.stdout and "FINISHED" in ok.stdout
    bad = subprocess.run(
        [*CLI, "project", "run", str(tmp_path / "p"), "-P", "n=x"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 5 and "float" in bad.stderr


# -- what an attack found (issue 9): each payload would create MARKER on an unsafe runner --


def _no_runs(store: str) -> bool:
    client = Client(store)
    return all(not client.search_runs([e.experiment_id]) for e in client.search_experiments())


def _run_quietly(project: Path, store: str, **options):
    """A local run whose output nobody reads: these tests look at what it refused
    and what it left behind."""
    return runner.run(
        str(project), env_manager="local", tracking_uri=store, output=lambda line: None, **options
    )


def _mlproject(command: str, parameters: dict | None = None) -> str:
    entry = {"command": command}
    if parameters is not None:
        entry["parameters"] = parameters
    return yaml.safe_dump({"entry_points": {"main": entry}})


PLACEHOLDER_ATTACKS = [
    pytest.param("echo '{x}'", "$(touch MARKER)", id="single-quotes"),
    pytest.param('echo "{x}"', "$(touch MARKER)", id="double-quotes"),
    pytest.param("echo {x!r}", "$(touch MARKER)", id="repr-conversion"),
    pytest.param("echo {x:>40}", "$(touch MARKER)", id="format-spec"),
    pytest.param("echo `echo {x}`", "`;touch MARKER;`", id="backquotes"),
    pytest.param("echo $(( {x} ))", "$(touch MARKER)", id="arithmetic"),
    pytest.param("echo $[ {x} ]", "$(touch MARKER)", id="old-arithmetic"),
    pytest.param("echo hi # {x}", "\ntouch MARKER\n", id="comment"),
    pytest.param("echo \\{x}", "$(touch MARKER) #", id="after-backslash"),
    pytest.param("echo ${x}", "\\'A';touch MARKER;#", id="after-dollar"),
    pytest.param("a=((b {x}))", "\ntouch MARKER\n", id="array-assignment"),
]


@pytest.mark.parametrize("template, payload", PLACEHOLDER_ATTACKS)
def test_placeholder_the_shell_would_not_read_as_a_word_is_refused_and_runs_nothing(
    tmp_path, write_files, cache, template, payload
):
    marker = tmp_path / "pwned"
    project = write_files(
        tmp_path / "proj", {"MLproject": _mlproject(template, {"x": {"default": "ok"}})}
    )
    store = str(tmp_path / "mlruns")
    with pytest.raises(InvalidProject) as info:
        _run_quietly(project, store, parameters={"x": payload.replace("MARKER", str(marker))})
    assert "'main'" in info.value.message and "{x" in info.value.message
    assert not marker.exists()
    assert _no_runs(store)


@pytest.mark.parametrize(
    "template",
    ["echo {x}", "echo --x={x}", 'echo "$(echo {x})"', "echo $(echo {x})"],
)
@pytest.mark.parametrize(
    "payload",
    [
        "$(touch MARKER)",
        "'; touch MARKER; '",
        '"; touch MARKER; "',
        "`touch MARKER`",
        "x\ntouch MARKER\n",
    ],
)
def test_plain_word_placeholder_passes_payload_as_text(
    tmp_path, write_files, cache, template, payload
):
    marker = tmp_path / "pwned"
    value = payload.replace("MARKER", str(marker))
    project = write_files(tmp_path / "proj", {"MLproject": _mlproject(template, {"x": "string"})})
    lines: list[str] = []
    result = runner.run(
        str(project),
        parameters={"x": value},
        env_manager="local",
        tracking_uri=str(tmp_path / "mlruns"),
        output=lines.append,
    )
    assert result.status == "FINISHED"
    assert not marker.exists()
    # Unquoted $(...) output is split into words by the shell: compare words.
    assert " ".join(value.split()) in " ".join("".join(lines).split())


def test_undeclared_parameter_cannot_escape_a_trailing_comment(tmp_path, write_files, cache):
    marker = tmp_path / "pwned"
    project = write_files(tmp_path / "proj", {"MLproject": _mlproject("echo hi # trailing note")})
    store = str(tmp_path / "mlruns")
    with pytest.raises(InvalidParameters, match="comment"):
        _run_quietly(project, store, parameters={"k": f"\ntouch {marker}\n"})
    assert not marker.exists()
    assert _no_runs(store)


def _outside_script(tmp_path: Path, suffix: str) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    script = outside / f"evil{suffix}"
    body = f"open({str(marker)!r}, 'w').close()\n" if suffix == ".py" else f"touch '{marker}'\n"
    script.write_text(body)
    return script, marker


@pytest.mark.parametrize(
    "entry_point",
    [
        pytest.param("../outside/evil.py", id="dotdot"),
        pytest.param("ABSOLUTE", id="absolute"),
        pytest.param("sub/../../outside/evil.py", id="dotdot-through-subdir"),
        pytest.param("link.py", id="symlink-py"),
        pytest.param("link.sh", id="symlink-sh"),
        pytest.param("linkdir/evil.py", id="symlinked-directory"),
    ],
)
def test_script_entry_point_outside_project_is_refused(tmp_path, write_files, cache, entry_point):
    suffix = ".sh" if entry_point.endswith(".sh") else ".py"
    script, marker = _outside_script(tmp_path, suffix)
    project = write_files(tmp_path / "proj", {"MLproject": _mlproject("echo main"), "sub/x": ""})
    (project / f"link{suffix}").symlink_to(script)
    (project / "linkdir").symlink_to(script.parent, target_is_directory=True)
    store = str(tmp_path / "mlruns")
    name = str(script) if entry_point == "ABSOLUTE" else entry_point
    with pytest.raises(InvalidParameters) as info:
        _run_quietly(project, store, entry_point=name)
    assert f"'{name}'" in info.value.message and "outside the project" in info.value.message
    assert not marker.exists()
    assert _no_runs(store)


def test_script_entry_points_inside_project_keep_working(tmp_path, write_files, cache):
    project = write_files(
        tmp_path / "proj",
        {"tools/job.py": "import sys; print('job', sys.argv[1:])\n", "run.sh": "echo sh $@\n"},
    )
    (project / "alias.py").symlink_to(project / "tools/job.py")
    store = str(tmp_path / "mlruns")
    for entry_point, expected in (
        ("tools/job.py", "job ['--k', 'v']"),
        ("alias.py", "job ['--k', 'v']"),
        ("tools/../run.sh", "sh --k v"),
    ):
        lines: list[str] = []
        result = runner.run(
            str(project),
            entry_point=entry_point,
            parameters={"k": "v"},
            env_manager="local",
            tracking_uri=store,
            output=lines.append,
        )
        assert result.status == "FINISHED"
        assert any(expected in line for line in lines), lines


BAD_PARAMETERS = [
    pytest.param({"a\x00b": "1"}, "'a\\x00b'", id="nul-in-key"),
    pytest.param({"a=b": "1"}, "'a=b'", id="equals-in-key"),
    pytest.param({"a b": "1"}, "'a b'", id="space-in-key"),
    pytest.param({"a\tb": "1"}, "'a\\tb'", id="tab-in-key"),
    pytest.param({"a\nb": "1"}, "'a\\nb'", id="newline-in-key"),
    pytest.param({"a;touch x": "1"}, "'a;touch x'", id="semicolon-in-key"),
    pytest.param({"$(touch x)": "1"}, "'$(touch x)'", id="substitution-in-key"),
    pytest.param({"-rf": "1"}, "'-rf'", id="key-starting-with-dash"),
    pytest.param({"": "1"}, "''", id="empty-key"),
    pytest.param({"k" * 251: "1"}, "250 characters", id="key-too-long"),
    pytest.param({"extra": "a\x00b"}, "'extra'", id="nul-in-undeclared-value"),
    pytest.param({"label": "a\x00b"}, "'label'", id="nul-in-declared-value"),
]


@pytest.mark.parametrize("parameters, named", BAD_PARAMETERS)
def test_bad_parameter_names_and_values_open_no_run(
    tmp_path, write_files, cache, parameters, named
):
    project = write_files(tmp_path / "proj", MLFLOW_PROJECT)
    store = str(tmp_path / "mlruns")
    with pytest.raises(InvalidParameters) as info:
        _run_quietly(project, store, parameters=parameters)
    assert named in info.value.message
    assert _no_runs(store)
