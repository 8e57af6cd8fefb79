"""The MLproject file: parse it, validate it, and compute entry-point commands.

Follows MLflow's format (file found case-insensitively, `entry_points` with
typed parameters, `python_env` / `conda_env` / `docker_env`, undeclared
`.py` / `.sh` scripts as entry points) with two deliberate differences:
`float` parameters are checked to be numbers, and every malformed key gets an
`InvalidProject` that names the key and says how to fix it. Being a boundary
where other people's text meets a shell, it also refuses what MLflow lets
through: placeholders the shell would not read as plain words (see
`command_template`), parameter names that are not plain flag names, NUL in
values, and script entry points outside the project directory.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import yaml

from mlcadence.projects.command_template import (
    CommandTemplate,
    append_flags,
    literal_command,
    parse_command,
    shell_word,
)
from mlcadence.projects.errors import InvalidParameters, InvalidProject
from mlcadence.tracking.validation import MAX_ENTITY_KEY_LENGTH

MLPROJECT_FILE = "mlproject"
DEFAULT_ENTRY_POINT = "main"
# Files that define the environment when MLproject names none, in MLflow's order.
DEFAULT_ENV_FILES = (("python_env", "python_env.yaml"), ("conda_env", "conda.yaml"))
ENV_KEYS = ("docker_env", "python_env", "conda_env")

_EXAMPLE_PARAM = "alpha: {type: float, default: 0.1}"

# Parameter names become `--name` flags and tracking param keys: characters
# that mean nothing to a shell, starting like a word (not `-`, not `.`).
PARAMETER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


# --------------------------------------------------------------------------- parameters


def parameter_name_problem(name: str) -> str | None:
    """What is wrong with `name` as a parameter name, or None."""
    if len(name) > MAX_ENTITY_KEY_LENGTH:
        return f"is longer than {MAX_ENTITY_KEY_LENGTH} characters"
    if not PARAMETER_NAME.fullmatch(name):
        return (
            "may only contain letters, digits, '_', '.' and '-', and must start with a letter, "
            "digit or '_'"
        )
    return None


def _shown(text: str) -> str:
    # repr shows NUL, newlines and other invisible characters; long names are cut.
    return repr(text if len(text) <= 60 else text[:60] + "...")


def _check_value_text(name: str, value: str) -> None:
    if "\0" in value:
        raise InvalidParameters(
            f"Parameter '{name}' has a NUL character (\\x00) in its value, which no command "
            f"line can carry. Remove it from the value of -P {name}=..."
        )


def _string_value(name: str, value: str, base_dir: Path) -> str:
    return value


def _float_value(name: str, value: str, base_dir: Path) -> str:
    # MLflow passes float parameters through unchecked; a typo then fails deep
    # inside the training script. Checking here fails before any run is opened.
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isnan(number):
        raise InvalidParameters(
            f"Parameter '{name}' is declared as float but got '{value}'. "
            f"Pass a number, e.g. -P {name}=0.5, or declare it as `type: string`."
        )
    return value


def _path_value(name: str, value: str, base_dir: Path) -> str:
    parsed = urlparse(value)
    if parsed.scheme == "file":
        local = Path(parsed.path)
    elif len(parsed.scheme) > 1:
        raise InvalidParameters(
            f"Parameter '{name}' is a path but got the non-local URI '{value}'. "
            "Copy the data to a local path first, or declare the parameter as `type: uri` "
            "and let the entry point fetch it."
        )
    else:
        local = Path(value).expanduser()
    resolved = local if local.is_absolute() else (base_dir / local)
    if not resolved.exists():
        raise InvalidParameters(
            f"Parameter '{name}' is a path but '{value}' (resolved to {resolved}) does not exist. "
            "Pass an existing file or directory."
        )
    return str(resolved.resolve())


def _uri_value(name: str, value: str, base_dir: Path) -> str:
    if not urlparse(value).scheme:
        raise InvalidParameters(
            f"Parameter '{name}' is a uri but '{value}' has no scheme. "
            f"Pass a full URI such as file:///data/x.csv or s3://bucket/key."
        )
    return value


# type name -> converter(name, value, base_dir) -> value used in the command.
PARAMETER_TYPES: dict[str, Callable[[str, str, Path], str]] = {
    "string": _string_value,
    "float": _float_value,
    "path": _path_value,
    "uri": _uri_value,
}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "string"
    default: str | None = None

    def compute_value(self, value: str, base_dir: Path) -> str:
        return PARAMETER_TYPES[self.type](self.name, value, base_dir)


@dataclass(frozen=True)
class ComputedParameters:
    """Values after type checks: `declared` fill the template, `extra` are appended."""

    declared: dict[str, str]
    extra: dict[str, str]

    def all(self) -> dict[str, str]:
        return {**self.declared, **self.extra}


@dataclass(frozen=True)
class EntryPoint:
    name: str
    template: CommandTemplate
    parameters: dict[str, Parameter] = field(default_factory=dict)

    @property
    def command(self) -> str:
        return self.template.text

    def compute_parameters(
        self,
        user_parameters: Mapping[str, object] | None,
        project_dir: Path,
        cwd: Path | None = None,
    ) -> ComputedParameters:
        """Check and convert values. User-given relative paths resolve against `cwd`
        (where the user typed them); defaults against the project directory
        (where their author meant them)."""
        given = {str(k): _to_text(v) for k, v in (user_parameters or {}).items()}
        for name, value in given.items():
            problem = parameter_name_problem(name)
            if problem is not None:
                raise InvalidParameters(
                    f"Parameter name {_shown(name)} {problem}. Rename it, e.g. -P learning_rate=0.1."
                )
            _check_value_text(name, value)
        cwd = Path.cwd() if cwd is None else cwd
        missing = [
            name for name, p in self.parameters.items() if name not in given and p.default is None
        ]
        if missing:
            names = ", ".join(f"'{m}'" for m in missing)
            flags = " ".join(f"-P {m}=..." for m in missing)
            raise InvalidParameters(
                f"No value given for missing parameters: {names} of entry point '{self.name}'. "
                f"Pass them with {flags}."
            )
        declared: dict[str, str] = {}
        for name, param in self.parameters.items():
            if name in given:
                declared[name] = param.compute_value(given[name], cwd)
            else:
                declared[name] = param.compute_value(param.default, project_dir)
        extra = {k: v for k, v in given.items() if k not in self.parameters}
        return ComputedParameters(declared, extra)

    def compute_command(
        self,
        user_parameters: Mapping[str, object] | None,
        project_dir: Path,
        cwd: Path | None = None,
    ) -> str:
        computed = self.compute_parameters(user_parameters, project_dir, cwd)
        return self.command_for(computed)

    def command_for(self, computed: ComputedParameters) -> str:
        """The shell command: declared values shell-quoted into the template,
        undeclared ones appended as `--name value`."""
        return self.template.render(computed.declared) + append_flags(
            self.template, self.name, computed.extra
        )


def _to_text(value: object) -> str:
    # YAML gives floats/ints/bools for unquoted defaults; commands need text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- environments


@dataclass(frozen=True)
class DockerEnv:
    image: str
    volumes: tuple[str, ...] = ()
    # Each item is a NAME (copied from the host) or a (NAME, value) pair.
    environment: tuple[str | tuple[str, str], ...] = ()

    def resolve_environment(self, host_env: Mapping[str, str] | None = None) -> dict[str, str]:
        host_env = os.environ if host_env is None else host_env
        resolved: dict[str, str] = {}
        missing = []
        for item in self.environment:
            if isinstance(item, tuple):
                resolved[item[0]] = item[1]
            elif item in host_env:
                resolved[item] = host_env[item]
            else:
                missing.append(item)
        if missing:
            raise InvalidParameters(
                "docker_env.environment copies "
                + ", ".join(missing)
                + " from this machine, but it is not set here. Export it before running "
                "the project, or give a value in MLproject: [NAME, value]."
            )
        return resolved


@dataclass(frozen=True)
class ProjectEnvironment:
    """Which environment the project asks for.

    kind: "docker_env", "python_env", "conda_env", or "none" (this interpreter,
    no extra dependencies); `file` is the env file for python/conda."""

    kind: str
    file: Path | None = None
    docker: DockerEnv | None = None

    @property
    def default_manager(self) -> str:
        return ENV_KIND_TO_MANAGER[self.kind]


# The env manager used when the caller names none (MLflow runs docker_env
# projects in Docker and python_env ones in a virtualenv).
ENV_KIND_TO_MANAGER = {
    "docker_env": "docker",
    "python_env": "virtualenv",
    "conda_env": "conda",
    "none": "local",
}


@dataclass(frozen=True)
class PythonEnv:
    """`python_env.yaml`: interpreter version and pip requirement lines."""

    python: str | None
    build_dependencies: tuple[str, ...]
    dependencies: tuple[str, ...]


def _read_mapping(path: Path | None, what: str, label: str, expected: str) -> dict:
    """A YAML file that must hold a mapping ({} when absent or empty)."""
    data = None if path is None else _read_yaml(path, what)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidProject(
            f"{label} must be a YAML mapping with {expected}; got {type(data).__name__}."
        )
    return data


def load_python_env(path: Path) -> PythonEnv:
    data = _read_mapping(
        path, "python_env file", path.name, "keys python, build_dependencies, dependencies"
    )
    python = data.get("python")
    if python is not None and not isinstance(python, str | int | float):
        raise InvalidProject(
            f'{path.name}: `python` must be a version string such as "3.11"; '
            f"got {type(python).__name__}."
        )
    lists = {}
    for key in ("build_dependencies", "dependencies"):
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidProject(
                f"{path.name}: `{key}` must be a list of pip requirement strings, "
                f'e.g. ["pandas>=2", "-r requirements.txt"].'
            )
        lists[key] = tuple(value)
    return PythonEnv(
        None if python is None else str(python), lists["build_dependencies"], lists["dependencies"]
    )


# --------------------------------------------------------------------------- project


@dataclass(frozen=True)
class Project:
    directory: Path
    name: str | None
    entry_points: dict[str, EntryPoint]
    environment: ProjectEnvironment

    def get_entry_point(self, name: str) -> EntryPoint:
        if name in self.entry_points:
            return self.entry_points[name]
        script = self._script_inside_project(name)
        runner = SCRIPT_RUNNERS.get(Path(name).suffix)
        if runner is None or not script.is_file():
            declared = sorted(self.entry_points)
            why = (
                f"no such script in {self.directory}"
                if runner is not None
                else f"supported script extensions are {sorted(SCRIPT_RUNNERS)}"
            )
            raise InvalidParameters(
                f"Could not find entry point '{name}' among {declared} or run it as a script "
                f"({why}). Use -e with a declared entry point or an existing .py/.sh file."
            )
        return EntryPoint(name=name, template=literal_command(f"{runner()} {shell_word(name)}"))

    def _script_inside_project(self, name: str) -> Path:
        """A script entry point must be a file of this project: a path that leaves
        the directory (`../x.py`, `/abs/x.py`, a symlink out) would run code that
        whoever chose the project never saw."""
        if "\0" in name:
            raise InvalidParameters(
                f"Entry point name {_shown(name)} contains a NUL character. "
                "Use -e with a declared entry point or a .py/.sh file of the project."
            )
        root = self.directory.resolve()
        if Path(name).is_absolute():
            # Even inside the project: Docker runs it from another path.
            raise InvalidParameters(
                f"Entry point script '{name}' is an absolute path. Give -e a path relative to "
                f"the project directory {root}, e.g. -e train.py; scripts outside the project "
                "cannot run as entry points."
            )
        script = (root / name).resolve()
        if not script.is_relative_to(root):
            raise InvalidParameters(
                f"Entry point script '{name}' is outside the project directory {root} "
                f"(it resolves to {script}). Only scripts inside the project can run as entry "
                "points: give -e a path relative to the project, or copy the script into the "
                "project and declare it in MLproject."
            )
        return root / name


# script suffix -> how to run it; an undeclared script has no declared parameters,
# so every -P becomes `--key value`.
SCRIPT_RUNNERS: dict[str, Callable[[], str]] = {
    ".py": lambda: "python",
    ".sh": lambda: os.environ.get("SHELL", "bash"),
}


def find_mlproject(directory: Path) -> Path | None:
    """MLproject is matched case-insensitively, as MLflow does."""
    for child in sorted(directory.iterdir()):
        if child.name.lower() == MLPROJECT_FILE and child.is_file():
            return child
    return None


def load_project(directory: str | os.PathLike) -> Project:
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise InvalidProject(f"Project directory {directory} does not exist.")
    path = find_mlproject(directory)
    data = _read_mapping(path, "MLproject", "MLproject", "keys such as name and entry_points")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidProject(f"MLproject `name` must be a string; got {name!r}. Quote it.")
    entry_points = _parse_entry_points(data.get("entry_points"))
    environment = _parse_environment(data, directory)
    return Project(directory, name, entry_points, environment)


def _read_yaml(path: Path, what: str):
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InvalidProject(f"{what} {path} is not valid YAML ({exc}). Fix the syntax.") from None


def _parse_entry_points(raw) -> dict[str, EntryPoint]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidProject(
            "MLproject `entry_points` must be a mapping of entry-point name to "
            '{parameters, command}, e.g. entry_points: {main: {command: "python train.py"}}.'
        )
    entry_points = {}
    for ep_name, ep in raw.items():
        ep_name = str(ep_name)
        where = f"entry_points.{ep_name}"
        if not isinstance(ep, dict):
            raise InvalidProject(
                f"MLproject `{where}` must be a mapping with `command` (and optional "
                f"`parameters`); got {ep!r}."
            )
        command = ep.get("command")
        if not isinstance(command, str) or not command.strip():
            raise InvalidProject(
                f"MLproject `{where}.command` is missing or not a string. "
                f'Add e.g. command: "python train.py --alpha {{alpha}}".'
            )
        params = _parse_parameters(ep.get("parameters"), where)
        template = parse_command(command, ep_name)
        _check_placeholders_declared(template, params, where)
        entry_points[ep_name] = EntryPoint(ep_name, template, params)
    return entry_points


def _parse_parameters(raw, where: str) -> dict[str, Parameter]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidProject(
            f"MLproject `{where}.parameters` must be a mapping of name to type or "
            f"{{type, default}}, e.g. {_EXAMPLE_PARAM}."
        )
    params = {}
    for name, spec in raw.items():
        name = str(name)
        key = f"{where}.parameters.{name}"
        problem = parameter_name_problem(name)
        if problem is not None:
            raise InvalidProject(
                f"MLproject `{where}.parameters` declares {_shown(name)}, but a parameter name "
                f"{problem}. Rename it, e.g. learning_rate."
            )
        if isinstance(spec, str):
            ptype, default = spec, None
        elif isinstance(spec, dict):
            unknown = set(spec) - {"type", "default"}
            if unknown:
                raise InvalidProject(
                    f"MLproject `{key}` has unknown keys {sorted(unknown)}; "
                    f"only `type` and `default` are allowed."
                )
            ptype = spec.get("type", "string")
            default = spec.get("default")
        else:
            raise InvalidProject(
                f"MLproject `{key}` must be a type name or {{type, default}}; got {spec!r}. "
                f"Example: {_EXAMPLE_PARAM}."
            )
        if ptype not in PARAMETER_TYPES:
            raise InvalidProject(
                f"MLproject `{key}.type` is '{ptype}'; use one of {sorted(PARAMETER_TYPES)}."
            )
        if isinstance(default, dict | list):
            raise InvalidProject(
                f"MLproject `{key}.default` must be a scalar (text or number); got {default!r}."
            )
        text_default = None if default is None else _to_text(default)
        if text_default is not None and "\0" in text_default:
            raise InvalidProject(
                f"MLproject `{key}.default` contains a NUL character, which no command line "
                "can carry. Remove it."
            )
        if text_default is not None and ptype == "float":
            try:
                _float_value(name, text_default, Path("."))
            except InvalidParameters:  # a bad default is the file's fault, not the user's
                raise InvalidProject(
                    f"MLproject `{key}.default` is '{text_default}' but parameter '{name}' is "
                    "declared as float. Make the default a number or the type string."
                ) from None
        params[name] = Parameter(name, ptype, text_default)
    return params


def _check_placeholders_declared(
    template: CommandTemplate, params: dict[str, Parameter], where: str
) -> None:
    for f in template.placeholders:
        if f not in params:
            raise InvalidProject(
                f"MLproject `{where}.command` uses '{{{f}}}' but `{where}.parameters` does not "
                f"declare '{f}'. Declare it, e.g. {f}: {{type: string, default: ...}}."
            )


def _parse_environment(data: dict, directory: Path) -> ProjectEnvironment:
    present = [k for k in ENV_KEYS if data.get(k) is not None]
    if len(present) > 1:
        raise InvalidProject(
            f"MLproject sets several environments ({', '.join(present)}); keep exactly one of "
            "docker_env, python_env, conda_env."
        )
    if present:
        return ENV_PARSERS[present[0]](data[present[0]], directory)
    for kind, filename in DEFAULT_ENV_FILES:
        if (directory / filename).is_file():
            return ProjectEnvironment(kind, directory / filename)
    return ProjectEnvironment("none")


def _env_file(kind: str, example: str):
    def parse(raw, directory: Path) -> ProjectEnvironment:
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidProject(
                f"MLproject `{kind}` must be a path to a file relative to the project, "
                f"e.g. {kind}: {example}; got {raw!r}."
            )
        path = (directory / raw).resolve()
        if not path.is_file():
            raise InvalidProject(
                f"MLproject `{kind}` names {raw}, but no such file exists in {directory}. "
                f"Add the file or fix the path."
            )
        if kind == "python_env":
            load_python_env(path)  # validate now, not halfway through a run
        return ProjectEnvironment(kind, path)

    return parse


def _parse_docker_env(raw, directory: Path) -> ProjectEnvironment:
    if not isinstance(raw, dict):
        raise InvalidProject(
            "MLproject `docker_env` must be a mapping with `image` (and optional `volumes`, "
            "`environment`), e.g. docker_env: {image: my-image:latest}."
        )
    image = raw.get("image")
    if not isinstance(image, str) or not image.strip():
        raise InvalidProject(
            "MLproject `docker_env.image` is missing or not a string. "
            "Name the image to run in, e.g. image: stockpred-image:latest."
        )
    volumes = raw.get("volumes") or []
    if not isinstance(volumes, list) or not all(isinstance(v, str) for v in volumes):
        raise InvalidProject(
            "MLproject `docker_env.volumes` must be a list of strings, "
            'e.g. volumes: ["/data:/data", "/host/out:/out:rw"].'
        )
    for v in volumes:
        if ":" not in v:
            raise InvalidProject(
                f"MLproject `docker_env.volumes` item '{v}' has no container path; "
                "write HOST_PATH:CONTAINER_PATH[:ro|rw]."
            )
    env_items: list[str | tuple[str, str]] = []
    raw_env = raw.get("environment") or []
    if not isinstance(raw_env, list):
        raw_env = [raw_env]
    for item in raw_env:
        if isinstance(item, str) and item:
            env_items.append(item)
        elif (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], str | int | float)
        ):
            env_items.append((item[0], _to_text(item[1])))
        else:
            raise InvalidProject(
                "MLproject `docker_env.environment` must be a list of NAME strings (copied from "
                'this machine) or [NAME, value] pairs, e.g. environment: [["MODE", "prod"], '
                f'"HOME"]; got {item!r}.'
            )
    unknown = set(raw) - {"image", "volumes", "environment"}
    if unknown:
        raise InvalidProject(
            f"MLproject `docker_env` has unknown keys {sorted(unknown)}; "
            "allowed are image, volumes, environment."
        )
    return ProjectEnvironment(
        "docker_env", None, DockerEnv(image.strip(), tuple(volumes), tuple(env_items))
    )


ENV_PARSERS: dict[str, Callable[[object, Path], ProjectEnvironment]] = {
    "docker_env": _parse_docker_env,
    "python_env": _env_file("python_env", "python_env.yaml"),
    "conda_env": _env_file("conda_env", "conda.yaml"),
}
