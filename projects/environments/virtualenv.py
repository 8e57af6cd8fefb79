"""A virtualenv per environment definition, created once and reused.

The key is a hash of python_env.yaml, every requirements file it pulls in
with `-r`, and the interpreter version, so editing any of them makes a new
environment and an unchanged project reuses the old one. Packages come from
pip's normal configuration (index, find-links, wheel cache) on this machine;
the environment does not see the host's site-packages.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

from mlcadence.projects.environments.base import Execution
from mlcadence.projects.environments.local import shell_env
from mlcadence.projects.environments.process import run_streaming
from mlcadence.projects.errors import EnvironmentUnavailable, InvalidProject
from mlcadence.projects.spec import Project, PythonEnv, load_python_env

READY_MARKER = ".mlcadence-ready"


def python_env_of(project: Project) -> PythonEnv:
    env = project.environment
    if env.kind == "python_env":
        return load_python_env(env.file)
    return PythonEnv(None, (), ())  # no file: a bare venv of this interpreter


def requirement_files(project: Project, python_env: PythonEnv) -> list[Path]:
    files = []
    for line in python_env.dependencies + python_env.build_dependencies:
        match = re.match(r"^\s*(-r|--requirement)\s*(\S+)", line)
        if match:
            path = (project.directory / match.group(2)).resolve()
            if not path.is_file():
                raise InvalidProject(
                    f"python_env dependency '{line}' names {match.group(2)}, which does not "
                    f"exist in {project.directory}. Add the file or fix the path."
                )
            files.append(path)
    return files


def interpreter_for(version: str | None) -> str:
    """The interpreter for `python: X.Y[.Z]`: this one when X.Y matches, else
    pythonX.Y from PATH. (MLflow would install it with pyenv; we don't.)"""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version is None:
        return sys.executable
    wanted = ".".join(version.split(".")[:2])
    if wanted == here:
        return sys.executable
    found = shutil.which(f"python{wanted}")
    if found is None:
        raise EnvironmentUnavailable(
            f"python_env asks for Python {version}, but only Python {here} was found here "
            f"(no python{wanted} on PATH). Install Python {wanted}, or change `python:` in "
            "python_env.yaml."
        )
    return found


def env_key(project: Project, python_env: PythonEnv, interpreter: str) -> str:
    digest = hashlib.sha256()
    version = subprocess.run(
        [interpreter, "-c", "import sys; print(sys.version)"], capture_output=True, text=True
    ).stdout
    digest.update(version.encode())
    for item in (*python_env.build_dependencies, "--", *python_env.dependencies):
        digest.update(item.encode() + b"\0")
    for path in requirement_files(project, python_env):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


class VirtualenvEnv:
    name = "virtualenv"

    def check(self, project: Project) -> None:
        if project.environment.kind not in ("python_env", "none"):
            raise InvalidProject(
                f"A {project.environment.kind} project cannot run with --env-manager virtualenv. "
                "Use the manager its MLproject asks for, or local."
            )
        interpreter_for(python_env_of(project).python)

    def ensure(self, project: Project, cache_dir: Path, output) -> Path:
        python_env = python_env_of(project)
        interpreter = interpreter_for(python_env.python)
        root = cache_dir / "virtualenvs"
        root.mkdir(parents=True, exist_ok=True)
        venv = root / env_key(project, python_env, interpreter)
        with FileLock(str(venv) + ".lock"):
            if (venv / READY_MARKER).exists():
                return venv
            shutil.rmtree(venv, ignore_errors=True)  # a half-made one from a crash
            output(f"Creating virtualenv {venv}\n")
            self._create(interpreter, venv, python_env, project.directory, output)
            (venv / READY_MARKER).write_text("")
        return venv

    def _create(self, interpreter, venv: Path, python_env: PythonEnv, cwd: Path, output) -> None:
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        for group in (python_env.build_dependencies, python_env.dependencies):
            if not group:
                continue
            args = [a for line in group for a in _pip_args(line)]
            code = run_streaming([*pip, *args], cwd, env, output)
            if code != 0:
                shutil.rmtree(venv, ignore_errors=True)
                raise EnvironmentUnavailable(
                    f"Installing {list(group)} into the project's virtualenv failed (pip exit "
                    f"{code}). Check the names/versions in python_env.yaml and pip's output above."
                )

    def execute(self, execution: Execution) -> int:
        venv = self.ensure(execution.project, execution.cache_dir, execution.output)
        env = shell_env(execution, venv / "bin")
        env["VIRTUAL_ENV"] = str(venv)
        env.pop("PYTHONHOME", None)
        env.pop("PYTHONPATH", None)
        return run_streaming(
            ["bash", "-c", execution.command], execution.project.directory, env, execution.output
        )


def _pip_args(line: str) -> list[str]:
    # "-r requirements.txt" is two arguments; a requirement specifier is one.
    line = line.strip()
    match = re.match(r"^(-r|--requirement|-c|--constraint)\s*(\S+)$", line)
    return [match.group(1), match.group(2)] if match else [line]
