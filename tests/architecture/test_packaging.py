"""What the built wheel installs: one top-level name, every module of the
top-level folders under it, and imports a user's working directory cannot
shadow (Prefect workers run flows from the user's project folder, where a
`tasks.py` or a `tracking/` folder is common)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHADOWS = (
    "tasks.py",
    "flows.py",
    "tracking/__init__.py",
    "serving/__init__.py",
    "projects/__init__.py",
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """mlcadence's wheel, built by pip from a copy of the source tree."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "__pycache__", "*.egg-info", "build", "dist", "mlruns", ".venv"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp / "out"),
            str(source),
        ],
        check=True,
        timeout=600,
    )
    (built,) = (tmp / "out").glob("mlcadence-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed into a folder of its own (no dependencies: those
    come from this interpreter's site-packages)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    return target


def test_the_wheel_has_exactly_one_top_level_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"mlcadence"}


def test_the_wheel_holds_every_module_of_the_mapped_folders(wheel):
    """The package list in pyproject.toml is explicit: a new subpackage left out
    of it would silently be missing from the wheel."""
    names = set(zipfile.ZipFile(wheel).namelist())
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ]
    missing = []
    for package, folder in package_dir.items():
        for path in (ROOT / folder).rglob("*.py"):
            inside = "/".join([*package.split("."), *path.relative_to(ROOT / folder).parts])
            if "__pycache__" not in inside and inside not in names:
                missing.append(inside)
    assert not missing, f"add their packages to [tool.setuptools] packages: {missing}"
    assert "mlcadence/projects/stockpred/MLproject" in names


def test_the_wheel_carries_the_web_uis_static_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    static = ROOT / "tracking" / "server" / "ui" / "static"
    shipped = {f"mlcadence/tracking/server/ui/static/{p.name}" for p in static.iterdir()}
    assert {"index.html", "app.js", "style.css"} <= {p.name for p in static.iterdir()}
    assert shipped <= names, f"list them under [tool.setuptools.package-data]: {shipped - names}"


def test_a_users_tasks_py_and_tracking_folder_change_nothing(installed, tmp_path):
    workdir = tmp_path / "user-project"
    for rel in SHADOWS:
        path = workdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"raise ImportError('the user\\'s {rel} was imported')\n")
    script = textwrap.dedent(
        f"""
        import mlcadence, mlcadence.tracking, mlcadence.serving.server, mlcadence.projects.runner
        import mlcadence.tasks.data, mlcadence.flows.training, mlcadence.cli
        from prefect.flows import load_flow_from_entrypoint
        flow = load_flow_from_entrypoint("mlcadence.flows.training:training")
        assert flow.name == "training", flow.name
        assert mlcadence.tracking.__file__.startswith({str(installed)!r}), mlcadence.tracking.__file__
        assert callable(mlcadence.start_run)
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=workdir,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
