"""Wheelhouses built on this machine for images built here.

Containers here cannot use pip over HTTPS, and a build that downloads is not
reproducible anyway: wheels are fetched or built on the host (with the host's
pip configuration, caches and indexes) into a folder that goes into the
Docker build context, and the image installs them with
`pip install --no-index --find-links`.

Third-party wheels are cached by a hash of the requirement list, so the same
list gives byte-identical files and Docker's layer cache holds. Our own
package is built as one wheel with `--no-deps` from its source tree.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from filelock import FileLock

from mlcadence.containers.errors import ContainerError

OWN_DISTRIBUTION = "mlcadence"
READY_MARKER = ".complete"


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str | None:
    """The distribution name of a pip requirement line, or None for options/blank lines."""
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return normalize_name(match.group(1)) if match else None


def pinned_to_host(names: list[str]) -> list[str]:
    """`name==<version installed here>` for each name: the image then runs the
    versions the model was trained and tested with."""
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def own_dependencies() -> list[str]:
    """mlcadence's own requirements (no optional extras), pinned to this
    machine's versions, extras kept (uvicorn[standard] needs its extras' wheels)."""
    lines = []
    for req in metadata.requires(OWN_DISTRIBUTION) or []:
        spec, _, marker = req.partition(";")
        if "extra" in marker:
            continue
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?", spec)
        if not match:
            continue
        name, extras = match.group(1), match.group(2) or ""
        try:
            lines.append(f"{name}{extras}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(spec.strip())
    return lines


def merge_requirements(base: list[str], overrides: list[str], drop: set[str]) -> list[str]:
    """`base` with every package that `overrides` names replaced by the override
    line (a model's own pins win), minus packages in `drop`."""
    drop = {normalize_name(d) for d in drop}
    over = {}
    for line in overrides:
        name = requirement_name(line)
        if name is not None and name not in drop:
            over[name] = line.split("#", 1)[0].strip()
    merged = []
    for line in base:
        name = requirement_name(line)
        if name is None or name in drop:
            continue
        merged.append(over.pop(name, line))
    merged.extend(over.values())
    return merged


def wheelhouse_key(requirements: list[str]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{sys.version_info[:2]}|{sys.platform}".encode())
    for line in sorted(requirements):
        digest.update(line.encode() + b"\0")
    return digest.hexdigest()[:20]


def third_party_wheelhouse(requirements: list[str], cache_dir: Path, output=None) -> Path:
    """A folder of wheels satisfying `requirements` (and their dependencies),
    made once per distinct list and reused."""
    root = cache_dir / "wheelhouses"
    root.mkdir(parents=True, exist_ok=True)
    target = root / wheelhouse_key(requirements)
    with FileLock(str(target) + ".lock"):
        if (target / READY_MARKER).exists():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
        try:
            _pip(["wheel", "--prefer-binary", "--wheel-dir", str(tmp), *requirements], output)
            (tmp / "requirements.txt").write_text("\n".join(requirements) + "\n")
            (tmp / READY_MARKER).write_text("")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def source_root() -> Path:
    """The source tree mlcadence runs from (an editable or source checkout)."""
    import mlcadence

    root = Path(mlcadence.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise ContainerError(
            f"mlcadence at {root} is not a source checkout (no pyproject.toml), so its wheel "
            "cannot be built for the image. Install mlcadence from its repository "
            "(pip install -e <repo>) on the machine that builds images."
        )
    return root


_SOURCE_IGNORE = (
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "mlruns",
    "tests",
    "benchmarks",
    ".pytest_cache",
    "*.pyc",
    ".venv",
    ".ci",
    "scripts",
    # Tools' caches and what no package holds: a lint run or a benchmark must
    # not change the digest (a new digest rebuilds the wheel and every image on it).
    ".*_cache",
    ".benchmarks",
    ".hypothesis",
    "docs",
    "examples",
)


def _source_digest(root: Path) -> str:
    """Hash of the files that go into our wheel: an unchanged tree reuses the
    cached wheel, so the image layer that installs it stays cached too."""
    digest = hashlib.sha256()
    ignore = shutil.ignore_patterns(*_SOURCE_IGNORE)
    stack = [root]
    while stack:
        directory = stack.pop()
        names = sorted(os.listdir(directory))
        skipped = ignore(str(directory), names)
        for name in names:
            if name in skipped:
                continue
            path = directory / name
            if path.is_dir():
                stack.append(path)
            elif path.is_file():
                digest.update(str(path.relative_to(root)).encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def own_source_digest() -> str:
    """The content key of this checkout's wheel (what `own_wheel` is cached by)."""
    return _source_digest(source_root())


def own_wheel(cache_dir: Path, output=None) -> Path:
    """mlcadence's wheel (no dependencies), built once per source-tree hash."""
    root = source_root()
    target = cache_dir / "own-wheels" / _source_digest(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        found = sorted(target.glob("*.whl"))
        if found:
            return found[0]
        with tempfile.TemporaryDirectory(prefix="mlcadence-wheel-") as tmp:
            src_copy = Path(tmp) / "src"
            shutil.copytree(root, src_copy, ignore=shutil.ignore_patterns(*_SOURCE_IGNORE))
            if not (src_copy / "README.md").exists():
                (src_copy / "README.md").write_text("mlcadence\n")
            out = Path(tmp) / "out"
            _pip(["wheel", "--no-deps", "--wheel-dir", str(out), str(src_copy)], output)
            (wheel,) = out.glob("*.whl")
            target.mkdir(exist_ok=True)
            final = target / wheel.name
            shutil.copyfile(wheel, final)
            return final


def _pip(args: list[str], output=None) -> None:
    env = dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        env=env,
    )
    if output is not None and done.stdout:
        output(done.stdout)
    if done.returncode != 0:
        raise ContainerError(
            f"pip {args[0]} failed while preparing wheels for an image:\n{done.stderr.strip()}\n"
            "Check that every requirement can be installed on this machine with pip."
        )
