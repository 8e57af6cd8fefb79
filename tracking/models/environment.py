"""The environment files next to a model: `requirements.txt`,
`python_env.yaml` and `conda.yaml`, in MLflow's shapes.

`requirements.txt` pins what *we* need to serve the model (scikit-learn, the
serializer, numpy, pandas, scipy), not `mlflow`: MLflow's own virtualenv
env-manager is not a goal, and its pyfunc loader needs no line here.
As in MLflow, lines are joined with "\\n" with no trailing newline.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

import yaml

from mlcadence.tracking.errors import InvalidInput

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"

# Distributions every sklearn model needs at serving time.
BASE_REQUIREMENTS = ("scikit-learn", "numpy", "pandas", "scipy")


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def pinned(dist: str) -> str:
    version = installed_version(dist)
    return f"{dist}=={version}" if version else dist


def default_requirements(serializer_dist: str | None) -> list[str]:
    dists = list(BASE_REQUIREMENTS) + ([serializer_dist] if serializer_dist else [])
    return sorted({pinned(d) for d in dists}, key=str.lower)


def _read_requirement_lines(source) -> list[str]:
    if isinstance(source, (str, os.PathLike)) and Path(source).is_file():
        lines = Path(source).read_text().splitlines()
    elif isinstance(source, str):
        raise InvalidInput(
            f"pip_requirements '{source}' is not a file. Pass a list of requirement strings or "
            "the path of a requirements file."
        )
    else:
        lines = list(source)
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def resolve_requirements(
    serializer_dist: str | None, pip_requirements=None, extra_pip_requirements=None
) -> list[str]:
    """MLflow's semantics: `pip_requirements` replaces the defaults;
    `extra_pip_requirements` is added to them. Not both."""
    if pip_requirements is not None and extra_pip_requirements is not None:
        raise InvalidInput(
            "Give only one of pip_requirements (replaces the defaults) and "
            "extra_pip_requirements (adds to them)."
        )
    if pip_requirements is not None:
        return _read_requirement_lines(pip_requirements)
    reqs = default_requirements(serializer_dist)
    if extra_pip_requirements is not None:
        reqs += [r for r in _read_requirement_lines(extra_pip_requirements) if r not in reqs]
    return reqs


def python_env(python_version: str) -> dict:
    build = [pinned("pip"), pinned("setuptools"), "wheel"]
    return {
        "python": python_version,
        "build_dependencies": build,
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }


def conda_env(python_version: str, requirements: list[str]) -> dict:
    pip_version = installed_version("pip")
    return {
        "name": "mlflow-env",
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={python_version}",
            f"pip<={pip_version}" if pip_version else "pip",
            {"pip": list(requirements)},
        ],
    }


def write_environment(model_dir: Path, requirements: list[str]) -> None:
    version = platform.python_version()
    (model_dir / REQUIREMENTS_FILE).write_text("\n".join(requirements))
    (model_dir / PYTHON_ENV_FILE).write_text(
        yaml.safe_dump(python_env(version), default_flow_style=False, sort_keys=False)
    )
    (model_dir / CONDA_FILE).write_text(
        yaml.safe_dump(conda_env(version, requirements), default_flow_style=False)
    )
