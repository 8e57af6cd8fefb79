"""Turn a project URI into a local directory to run in.

Forms: a local directory, `dir#subdir`, or a git URI (https://, ssh://,
git@host:..., file://, or a local git repository when a version is asked for)
optionally at a `version` (commit, branch or tag). Git projects are cloned
once into a cache (a bare mirror per URI) and each commit is exported to its
own directory, so concurrent runs of different versions never share a
working tree.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from filelock import FileLock

from mlcadence.projects.errors import InvalidProject, ProjectError

GIT_SCHEMES = ("http", "https", "ssh", "git", "file")


@dataclass(frozen=True)
class FetchedProject:
    directory: Path  # where MLproject is (the subdirectory when one was given)
    source_name: str  # what the run records as mlflow.source.name
    git_commit: str | None = None
    git_repo_url: str | None = None
    git_branch: str | None = None


def split_subdirectory(uri: str) -> tuple[str, str]:
    base, sep, subdir = uri.partition("#")
    if not sep:
        return uri, ""
    subdir = subdir.strip("/")
    if any(part in (".", "..") for part in subdir.split("/")) or subdir.startswith("."):
        raise InvalidProject(
            f"Project subdirectory '{subdir}' may not contain '.' or '..'. "
            "Write the path below the repository root, e.g. repo#examples/stockpred."
        )
    return base, subdir


def is_git_uri(uri: str) -> bool:
    if uri.startswith("git@") or uri.endswith(".git"):
        return True
    return urlparse(uri).scheme in GIT_SCHEMES


def fetch(uri: str, version: str | None, cache_dir: Path) -> FetchedProject:
    base, subdir = split_subdirectory(str(uri))
    local = Path(base).expanduser()
    if not is_git_uri(base) and local.exists():
        if version is not None:
            if not (local / ".git").exists():
                raise InvalidProject(
                    f"A version ('{version}') can only be given for a git project; {local} is not "
                    "a git repository. Drop --version, or point at a git URI."
                )
            return _fetch_git(str(local.resolve()), version, subdir, cache_dir)
        root = local.resolve()
        directory = _subdir(root, subdir, uri)
        source = str(root) + (f"#{subdir}" if subdir else "")
        return FetchedProject(directory, source, _local_commit(root))
    if is_git_uri(base):
        return _fetch_git(base, version, subdir, cache_dir)
    raise InvalidProject(
        f"Project '{uri}' is neither an existing directory nor a git URI. "
        "Give a local path, path#subdir, or a git URL (https://..., file://..., git@host:repo)."
    )


def _subdir(root: Path, subdir: str, uri: str) -> Path:
    directory = (root / subdir).resolve() if subdir else root
    if not directory.is_dir():
        raise InvalidProject(f"Project subdirectory '{subdir}' does not exist in {uri}.")
    return directory


def _git(*args: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ProjectError(
            "git is not installed; install git to run projects from git URIs."
        ) from None
    if done.returncode != 0:
        raise ProjectError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _local_commit(root: Path) -> str | None:
    if shutil.which("git") is None:
        return None
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _fetch_git(uri: str, version: str | None, subdir: str, cache_dir: Path) -> FetchedProject:
    key = hashlib.sha256(uri.encode()).hexdigest()[:16]
    home = cache_dir / "git" / key
    home.mkdir(parents=True, exist_ok=True)
    mirror = home / "mirror.git"
    with FileLock(str(home / ".lock")):
        if mirror.exists():
            _git("--git-dir", str(mirror), "fetch", "--prune", "--tags", "origin", "+refs/*:refs/*")
        else:
            _git("clone", "--mirror", "--quiet", uri, str(mirror))
        wanted = version or "HEAD"
        try:
            commit = _git("--git-dir", str(mirror), "rev-parse", "--verify", f"{wanted}^{{commit}}")
        except ProjectError:
            raise InvalidProject(
                f"Version '{wanted}' is not a commit, branch or tag of {uri}. "
                "Check the name with `git ls-remote`."
            ) from None
        branch = None
        if version is not None:
            is_branch = (
                subprocess.run(
                    [
                        "git",
                        "--git-dir",
                        str(mirror),
                        "show-ref",
                        "--verify",
                        "--quiet",
                        f"refs/heads/{version}",
                    ],
                    check=False,
                ).returncode
                == 0
            )
            branch = version if is_branch else None
        checkout = home / commit
        if not checkout.exists():
            _export(mirror, commit, checkout)
    return FetchedProject(
        directory=_subdir(checkout, subdir, uri),
        source_name=uri + (f"#{subdir}" if subdir else ""),
        git_commit=commit,
        git_repo_url=uri,
        git_branch=branch,
    )


def _export(mirror: Path, commit: str, dest: Path) -> None:
    """Write the tree at `commit` to `dest` atomically (temp dir, then rename)."""
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=dest.parent))
    archive = tmp / "tree.tar"
    _git("--git-dir", str(mirror), "archive", "--format=tar", "-o", str(archive), commit)
    tree = tmp / "tree"
    tree.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    os.replace(tree, dest)
    shutil.rmtree(tmp, ignore_errors=True)
