"""conda_env projects: an environment per conda.yaml hash, via the conda CLI.

conda is not part of mlcadence; when it is not installed the run stops
before a tracking run is opened, with a message saying what to do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from filelock import FileLock

from mlcadence.projects.environments.base import Execution
from mlcadence.projects.environments.local import shell_env
from mlcadence.projects.environments.process import run_streaming
from mlcadence.projects.errors import EnvironmentUnavailable, InvalidProject
from mlcadence.projects.spec import Project


def conda_executable() -> str | None:
    # MLFLOW_CONDA_HOME is MLflow's way to point at a conda install; honour it.
    home = os.environ.get("MLFLOW_CONDA_HOME")
    if home and (Path(home) / "bin" / "conda").exists():
        return str(Path(home) / "bin" / "conda")
    return shutil.which("conda")


class CondaEnv:
    name = "conda"

    def check(self, project: Project) -> None:
        if project.environment.kind == "python_env":
            raise InvalidProject(
                "A python_env project cannot be executed using conda. Use --env-manager "
                "virtualenv or local."
            )
        if project.environment.kind == "docker_env":
            raise InvalidProject(
                "A docker_env project runs in Docker; use --env-manager docker (or local)."
            )
        if conda_executable() is None:
            raise EnvironmentUnavailable(
                "This project needs conda (--env-manager conda), but no `conda` executable was "
                "found on PATH or in MLFLOW_CONDA_HOME. Install Miniconda, or run with "
                "--env-manager local to use this Python as is."
            )

    def execute(self, execution: Execution) -> int:
        conda = conda_executable()
        project = execution.project
        spec = project.environment.file
        text = spec.read_bytes() if spec is not None else b""
        prefix = execution.cache_dir / "conda" / hashlib.sha256(text).hexdigest()[:20]
        prefix.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(prefix) + ".lock"):
            if not (prefix / "conda-meta").exists():
                argv = (
                    [conda, "env", "create", "--yes", "-p", str(prefix), "-f", str(spec)]
                    if spec is not None
                    else [conda, "create", "--yes", "-p", str(prefix), "python"]
                )
                code = run_streaming(argv, project.directory, os.environ, execution.output)
                if code != 0:
                    raise EnvironmentUnavailable(
                        f"conda could not create the environment from {spec} (exit {code}); "
                        "see its output above."
                    )
        env = shell_env(execution, prefix / "bin")
        env["CONDA_PREFIX"] = str(prefix)
        return run_streaming(
            ["bash", "-c", execution.command], project.directory, env, execution.output
        )
