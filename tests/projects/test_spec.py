"""Conformance table for MLproject parsing and command computation.

Each case is (MLproject text, extra files, entry point, parameters, expected
command); `{dir}` in an expected command stands for the project directory.
The MLflow-observed case (quoting, undeclared params after declared ones,
path made absolute) is the first row.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlcadence.projects.errors import InvalidParameters, InvalidProject, ProjectError
from mlcadence.projects.runner import parse_parameter_args
from mlcadence.projects.spec import DockerEnv, load_project

DEMO = """
name: demo
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
      data:  {type: path, default: data.csv}
      name: string
      u:     {type: uri, default: "s3://b/k"}
    command: "python train.py --alpha {alpha} --data {data} --name {name} --u {u}"
"""

SIMPLE = """
entry_points:
  main:
    parameters:
      n: {type: float, default: 3}
      s: {type: string, default: "a b"}
    command: "python run.py {n} {s}"
  other:
    command: "echo other"
"""

COMMAND_CASES = [
    pytest.param(
        DEMO,
        {"data.csv": "x"},
        "main",
        {"name": "hello world", "extra_key": "x y", "lr": "0.1"},
        "python train.py --alpha 0.1 --data {dir}/data.csv --name 'hello world' --u s3://b/k"
        " --extra_key 'x y' --lr 0.1",
        id="mlflow-observed",
    ),
    pytest.param(SIMPLE, {}, "main", {}, "python run.py 3 'a b'", id="defaults-quoted"),
    pytest.param(SIMPLE, {}, "main", {"n": "1e-3"}, "python run.py 1e-3 'a b'", id="float-exp"),
    pytest.param(SIMPLE, {}, "main", {"n": -2}, "python run.py -2 'a b'", id="float-negative"),
    pytest.param(
        SIMPLE,
        {},
        "main",
        {"s": "it's; rm -rf /"},
        "python run.py 3 'it'\"'\"'s; rm -rf /'",
        id="quote-injection",
    ),
    pytest.param(SIMPLE, {}, "main", {"s": ""}, "python run.py 3 ''", id="empty-string"),
    pytest.param(SIMPLE, {}, "main", {"s": "$HOME"}, "python run.py 3 '$HOME'", id="no-expansion"),
    pytest.param(SIMPLE, {}, "other", {}, "echo other", id="second-entry-point"),
    pytest.param(
        SIMPLE,
        {},
        "other",
        {"b": "2", "a": "1"},
        "echo other --b 2 --a 1",
        id="extras-in-given-order",
    ),
    pytest.param(
        SIMPLE,
        {"train.py": ""},
        "train.py",
        {"x": "1 2"},
        "python train.py --x '1 2'",
        id="undeclared-py-script",
    ),
    pytest.param(
        SIMPLE,
        {"my job.py": ""},
        "my job.py",
        {},
        "python 'my job.py'",
        id="script-with-space",
    ),
    pytest.param(
        None, {"run.py": ""}, "run.py", {"k": "v"}, "python run.py --k v", id="no-mlproject"
    ),
    pytest.param(
        "entry_points:\n  main:\n    parameters:\n      p: path\n    command: cat {p}\n",
        {"in dir/f.txt": "x"},
        "main",
        {"p": "{dir}/in dir/f.txt"},
        "cat '{dir}/in dir/f.txt'",
        id="path-with-space",
    ),
    pytest.param(
        "entry_points:\n  main:\n    parameters:\n      p: path\n    command: cat {p}\n",
        {"f.txt": "x"},
        "main",
        {"p": "file://{dir}/f.txt"},
        "cat {dir}/f.txt",
        id="path-file-uri",
    ),
    pytest.param(
        "entry_points:\n  main:\n    parameters:\n      u: uri\n    command: get {u}\n",
        {},
        "main",
        {"u": "https://x/y?a=1&b=2"},
        "get 'https://x/y?a=1&b=2'",
        id="uri-quoted",
    ),
    pytest.param(
        "entry_points:\n  main:\n    parameters:\n      t: {default: plain}\n"
        "    command: 'echo {t} {{literal}}'\n",
        {},
        "main",
        {},
        "echo plain {literal}",
        id="type-defaults-to-string-and-braces",
    ),
    pytest.param(
        "entry_points:\n  main:\n    parameters:\n      flag: {type: string, default: true}\n"
        "    command: echo {flag}\n",
        {},
        "main",
        {},
        "echo true",
        id="yaml-bool-default",
    ),
]


def make_project(tmp_path: Path, mlproject: str | None, files: dict[str, str], name="MLproject"):
    root = tmp_path / "proj"
    root.mkdir()
    if mlproject is not None:
        (root / name).write_text(textwrap.dedent(mlproject))
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("mlproject, files, entry, params, expected", COMMAND_CASES)
def test_command_table(tmp_path, mlproject, files, entry, params, expected):
    root = make_project(tmp_path, mlproject, files)
    given = {k: str(v).replace("{dir}", str(root)) for k, v in params.items()}
    project = load_project(root)
    command = project.get_entry_point(entry).compute_command(given, root, cwd=tmp_path)
    assert command == expected.replace("{dir}", str(root))


def test_shell_script_entry_point_uses_shell(tmp_path, monkeypatch):
    monkeypatch.setenv("SHELL", "/bin/bash")
    root = make_project(tmp_path, SIMPLE, {"run.sh": "echo hi"})
    cmd = load_project(root).get_entry_point("run.sh").compute_command({"a": "1"}, root)
    assert cmd == "/bin/bash run.sh --a 1"


@pytest.mark.parametrize("filename", ["MLproject", "mlproject", "MLProject", "MLPROJECT"])
def test_file_found_case_insensitively(tmp_path, filename):
    root = make_project(tmp_path, "name: x\nentry_points: {main: {command: echo}}\n", {}, filename)
    assert load_project(root).name == "x"


def test_user_relative_path_resolves_against_cwd_default_against_project(tmp_path):
    root = make_project(
        tmp_path,
        "entry_points:\n  main:\n    parameters:\n      p: {type: path, default: d.csv}\n"
        "    command: cat {p}\n",
        {"d.csv": ""},
    )
    (tmp_path / "mine.csv").write_text("")
    ep = load_project(root).get_entry_point("main")
    assert ep.compute_command({}, root, cwd=tmp_path) == f"cat {root}/d.csv"
    assert ep.compute_command({"p": "mine.csv"}, root, cwd=tmp_path) == f"cat {tmp_path}/mine.csv"


# -- environments -----------------------------------------------------------------------

ENV_CASES = [
    ("name: a\n", {}, "none", "local"),
    ("name: a\n", {"python_env.yaml": "python: '3.11'\n"}, "python_env", "virtualenv"),
    ("name: a\n", {"conda.yaml": "name: x\n"}, "conda_env", "conda"),
    ("name: a\n", {"python_env.yaml": "", "conda.yaml": ""}, "python_env", "virtualenv"),
    (
        "python_env: env/p.yaml\n",
        {"env/p.yaml": "dependencies: [six]\n"},
        "python_env",
        "virtualenv",
    ),
    ("conda_env: c.yaml\n", {"c.yaml": "name: c\n", "python_env.yaml": ""}, "conda_env", "conda"),
    ("docker_env: {image: img:1}\n", {"python_env.yaml": ""}, "docker_env", "docker"),
]


@pytest.mark.parametrize("mlproject, files, kind, manager", ENV_CASES)
def test_environment_selection(tmp_path, mlproject, files, kind, manager):
    env = load_project(make_project(tmp_path, mlproject, files)).environment
    assert (env.kind, env.default_manager) == (kind, manager)


def test_docker_env_fields(tmp_path):
    root = make_project(
        tmp_path,
        """
        name: d
        docker_env:
          image: img:1
          volumes: ["/data:/data", "rel:/in:ro"]
          environment: [["NEW", "v"], "COPIED", ["NUM", 3]]
        """,
        {},
    )
    docker = load_project(root).environment.docker
    assert docker == DockerEnv(
        "img:1", ("/data:/data", "rel:/in:ro"), (("NEW", "v"), "COPIED", ("NUM", "3"))
    )
    assert docker.resolve_environment({"COPIED": "c"}) == {"NEW": "v", "COPIED": "c", "NUM": "3"}
    with pytest.raises(InvalidParameters, match="COPIED"):
        docker.resolve_environment({})


# -- every validation error: (MLproject, files, words the message must contain) ---------

INVALID_CASES = [
    pytest.param("- a\n- b\n", {}, ["YAML mapping"], id="top-level-list"),
    pytest.param("name: [1]\n", {}, ["`name`", "string"], id="name-not-string"),
    pytest.param("name: a\n  bad: : :\n", {}, ["not valid YAML"], id="bad-yaml"),
    pytest.param("entry_points: [main]\n", {}, ["`entry_points`", "mapping"], id="eps-list"),
    pytest.param("entry_points: {main: x}\n", {}, ["`entry_points.main`"], id="ep-not-mapping"),
    pytest.param(
        "entry_points: {main: {}}\n", {}, ["entry_points.main.command", "Add"], id="no-command"
    ),
    pytest.param(
        "entry_points: {main: {command: 'x', parameters: [a]}}\n",
        {},
        ["entry_points.main.parameters", "mapping"],
        id="params-list",
    ),
    pytest.param(
        "entry_points: {main: {command: 'x', parameters: {a: {type: int}}}}\n",
        {},
        ["entry_points.main.parameters.a.type", "float", "uri"],
        id="unknown-type",
    ),
    pytest.param(
        "entry_points: {main: {command: 'x', parameters: {a: {typ: float}}}}\n",
        {},
        ["entry_points.main.parameters.a", "unknown keys", "typ"],
        id="misspelled-key",
    ),
    pytest.param(
        "entry_points: {main: {command: 'x', parameters: {a: 3}}}\n",
        {},
        ["entry_points.main.parameters.a", "type name"],
        id="param-number",
    ),
    pytest.param(
        "entry_points: {main: {command: 'x', parameters: {a: {type: float, default: abc}}}}\n",
        {},
        ["'a'", "float", "abc"],
        id="bad-float-default",
    ),
    pytest.param(
        "entry_points: {main: {command: 'x', parameters: {a: {default: [1]}}}}\n",
        {},
        ["entry_points.main.parameters.a.default", "scalar"],
        id="list-default",
    ),
    pytest.param(
        "entry_points: {main: {command: 'run {b}'}}\n",
        {},
        ["entry_points.main.command", "'{b}'", "declare"],
        id="undeclared-placeholder",
    ),
    pytest.param(
        "entry_points: {main: {command: 'run {}'}}\n",
        {},
        ["entry_points.main.command", "not a parameter name"],
        id="positional-placeholder",
    ),
    pytest.param(
        "entry_points: {main: {command: 'run {a'}}\n",
        {},
        ["entry_points.main.command", "template"],
        id="unbalanced-brace",
    ),
    pytest.param(
        "entry_points: {main: {command: \"echo '{a}'\", parameters: {a: string}}}\n",
        {},
        ["entry_points.main.command", "'main'", "'{a}'", "single quotes", "Remove the quotes"],
        id="placeholder-in-quotes",
    ),
    pytest.param(
        "entry_points: {main: {command: 'run {a!r}', parameters: {a: string}}}\n",
        {},
        ["entry_points.main.command", "'{a!r}'", "not supported"],
        id="placeholder-conversion",
    ),
    pytest.param(
        "entry_points: {main: {command: 'run', parameters: {'a b': string}}}\n",
        {},
        ["entry_points.main.parameters", "'a b'", "letters, digits"],
        id="declared-name-with-space",
    ),
    pytest.param(
        "entry_points: {main: {command: 'run', parameters: {a: {default: \"x\\0y\"}}}}\n",
        {},
        ["entry_points.main.parameters.a.default", "NUL"],
        id="nul-in-default",
    ),
    pytest.param(
        "docker_env: {image: a}\npython_env: p.yaml\n",
        {"p.yaml": ""},
        ["several environments", "docker_env", "python_env"],
        id="two-envs",
    ),
    pytest.param("docker_env: img\n", {}, ["`docker_env`", "mapping"], id="docker-not-mapping"),
    pytest.param("docker_env: {volumes: []}\n", {}, ["docker_env.image"], id="docker-no-image"),
    pytest.param(
        "docker_env: {image: a, volumes: /data}\n",
        {},
        ["docker_env.volumes", "list"],
        id="volumes-not-list",
    ),
    pytest.param(
        "docker_env: {image: a, volumes: [/data]}\n",
        {},
        ["docker_env.volumes", "HOST_PATH"],
        id="volume-without-target",
    ),
    pytest.param(
        "docker_env: {image: a, environment: [[A, b, c]]}\n",
        {},
        ["docker_env.environment", "[NAME, value]"],
        id="env-triple",
    ),
    pytest.param(
        "docker_env: {image: a, environment: [{A: b}]}\n",
        {},
        ["docker_env.environment"],
        id="env-mapping-item",
    ),
    pytest.param(
        "docker_env: {image: a, env: []}\n",
        {},
        ["docker_env", "unknown keys", "env"],
        id="docker-unknown-key",
    ),
    pytest.param(
        "python_env: missing.yaml\n",
        {},
        ["python_env", "missing.yaml", "no such file"],
        id="python-env-missing",
    ),
    pytest.param(
        "conda_env: c.yaml\n", {}, ["conda_env", "c.yaml", "no such file"], id="conda-env-missing"
    ),
    pytest.param("python_env: [a]\n", {}, ["`python_env`", "path"], id="python-env-not-path"),
    pytest.param(
        "python_env: p.yaml\n",
        {"p.yaml": "dependencies: numpy\n"},
        ["`dependencies`", "list"],
        id="python-env-deps-string",
    ),
    pytest.param(
        "python_env: p.yaml\n",
        {"p.yaml": "python: [3]\n"},
        ["`python`", "version"],
        id="python-env-python-list",
    ),
    pytest.param("python_env: p.yaml\n", {"p.yaml": "- a\n"}, ["mapping"], id="python-env-list"),
]


@pytest.mark.parametrize("mlproject, files, words", INVALID_CASES)
def test_invalid_files(tmp_path, mlproject, files, words):
    root = make_project(tmp_path, mlproject, files)
    with pytest.raises(InvalidProject) as info:
        load_project(root)
    for word in words:
        assert word in info.value.message


PARAM_ERRORS = [
    pytest.param({}, "main", ["'name'", "-P name="], id="missing-required"),
    pytest.param(
        {"name": "x", "alpha": "abc"}, "main", ["'alpha'", "float", "abc"], id="not-float"
    ),
    pytest.param({"name": "x", "alpha": "nan"}, "main", ["'alpha'", "float"], id="nan"),
    pytest.param(
        {"name": "x", "data": "nope.csv"}, "main", ["'data'", "does not exist"], id="missing-path"
    ),
    pytest.param(
        {"name": "x", "data": "s3://b/k"}, "main", ["'data'", "non-local"], id="remote-path"
    ),
    pytest.param(
        {"name": "x", "u": "relative/thing"}, "main", ["'u'", "no scheme"], id="uri-no-scheme"
    ),
    pytest.param({}, "nope", ["nope", "main"], id="unknown-entry-point"),
    pytest.param({}, "missing.py", ["missing.py", "no such script"], id="missing-script"),
    pytest.param({}, "job.R", ["job.R", ".py"], id="unsupported-script"),
    pytest.param({}, "../data.csv.py", ["../data.csv.py", "outside the project"], id="script-up"),
    pytest.param({}, "/bin/x.sh", ["/bin/x.sh", "outside the project"], id="script-absolute"),
    pytest.param(
        {"name": "x", "extra key": "1"}, "main", ["'extra key'", "letters"], id="space-in-key"
    ),
    pytest.param({"name": "x", "a=b": "1"}, "main", ["'a=b'", "letters"], id="equals-in-key"),
    pytest.param({"name": "x\x00"}, "main", ["'name'", "NUL"], id="nul-in-value"),
]


@pytest.mark.parametrize("params, entry, words", PARAM_ERRORS)
def test_parameter_errors(tmp_path, params, entry, words):
    root = make_project(tmp_path, DEMO, {"data.csv": "", "job.R": ""})
    with pytest.raises(InvalidParameters) as info:
        load_project(root).get_entry_point(entry).compute_command(params, root, cwd=tmp_path)
    for word in words:
        assert word in info.value.message


@pytest.mark.parametrize(
    "args, expected",
    [
        (["a=1", "b=x=y", "c="], {"a": "1", "b": "x=y", "c": ""}),
        (["name=hello world"], {"name": "hello world"}),
    ],
)
def test_parse_parameter_args(args, expected):
    assert parse_parameter_args(args) == expected


@pytest.mark.parametrize(
    "args, words",
    [(["a"], ["-P name=value"]), (["a=1", "a=2"], ["Repeated", "'a'"]), (["=1"], ["-P"])],
)
def test_parse_parameter_args_errors(args, words):
    with pytest.raises(InvalidParameters) as info:
        parse_parameter_args(args)
    for word in words:
        assert word in info.value.message


def test_errors_share_one_family():
    assert issubclass(InvalidProject, ProjectError) and issubclass(InvalidParameters, ProjectError)
