"""Run artifacts in a local directory: a `file://` URI or a plain path.

Every destination path is checked to stay inside the run's artifact
directory (no absolute paths, no `..` escape, no symlink escape), and every
file is written to a temporary name in the destination directory and then
`os.replace`d, so a reader never sees a half-copied artifact.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlcadence.tracking.artifact_paths import (
    TMP_PREFIX,
    FileInfo,
    check_relative,
    require_file_path,
)
from mlcadence.tracking.errors import InvalidInput, NotFound


def artifact_root(artifact_uri: str) -> Path:
    """Local directory of a `file://` (or plain path) artifact URI."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(
                f"Artifact URI '{artifact_uri}' names a remote host; only local file:// "
                "artifact locations are supported. Use a local path."
            )
        return Path(unquote(parsed.path))
    if len(parsed.scheme) > 1:
        raise InvalidInput(
            f"Artifact URI '{artifact_uri}' has scheme '{parsed.scheme}', which this client cannot "
            "write. Use a tracking store whose artifact location is a local path or file:// URI."
        )
    return Path(artifact_uri)


def resolve(root: Path, artifact_path: str | None) -> Path:
    """`root/artifact_path`, refused when it would leave `root` (also through
    a symlink already present under root)."""
    rel = check_relative(artifact_path)
    target = root / rel if rel else root
    real_root = root.resolve()
    real_target = target.resolve()
    if real_target != real_root and real_root not in real_target.parents:
        raise InvalidInput(
            f"Invalid artifact path '{artifact_path}': it resolves outside the run's artifact "
            "directory. Use a path inside it."
        )
    return target


def atomic_write(dest: Path, write) -> None:
    if dest.is_dir():
        raise InvalidInput(
            f"Artifact path '{dest.name}' is a directory of artifacts; a file cannot replace it. "
            "Give the file a path of its own (e.g. inside that directory)."
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInput(
            f"Artifact '{dest.name}' would go inside an existing artifact file on its path "
            f"(…/{dest.parent.name}); a file cannot hold other artifacts. Choose another "
            "directory name."
        ) from None
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _atomic_copy(src: Path, dest: Path) -> None:
    def write(fh):
        with open(src, "rb") as source:
            shutil.copyfileobj(source, fh, length=1 << 20)

    atomic_write(dest, write)
    try:
        shutil.copymode(src, dest)
    except OSError:
        pass  # permissions are a nicety; the content is what matters


def log_artifact(
    artifact_uri: str, local_path: str | os.PathLike, artifact_path: str | None = None
) -> str:
    """Copy one file into `<artifact_path>/<basename>`; returns its relative path."""
    src = Path(local_path)
    if not src.is_file():
        raise InvalidInput(
            f"Cannot log artifact '{src}': it is not a file. Use log_artifacts() for directories."
        )
    root = artifact_root(artifact_uri)
    rel = posixpath.join(check_relative(artifact_path), src.name)
    _atomic_copy(src, resolve(root, rel))
    return rel


def log_artifacts(
    artifact_uri: str, local_dir: str | os.PathLike, artifact_path: str | None = None
) -> list[str]:
    """Copy a directory tree under `artifact_path`; returns the relative paths written."""
    src_root = Path(local_dir)
    if not src_root.is_dir():
        raise InvalidInput(f"Cannot log artifacts from '{src_root}': it is not a directory.")
    root = artifact_root(artifact_uri)
    base = check_relative(artifact_path)
    written: list[str] = []
    resolve(root, base)  # refuse an escaping base before copying anything
    for dirpath, _dirnames, filenames in os.walk(src_root):
        rel_dir = Path(dirpath).relative_to(src_root).as_posix()
        for name in sorted(filenames):
            parts = [p for p in (base, "" if rel_dir == "." else rel_dir, name) if p]
            rel = posixpath.join(*parts)
            _atomic_copy(Path(dirpath) / name, resolve(root, rel))
            written.append(rel)
    return written


def write_bytes(artifact_uri: str, artifact_file: str, data: bytes) -> str:
    """Write `data` as the file `artifact_file`; returns its relative path."""
    rel = require_file_path(artifact_file)
    atomic_write(resolve(artifact_root(artifact_uri), rel), lambda fh: fh.write(data))
    return rel


def list_artifacts(artifact_uri: str, path: str | None = None) -> list[FileInfo]:
    """Direct children of `path`, sorted by name; empty when `path` is absent.
    Symbolic links and special files are not listed (see download_artifacts)."""
    root = artifact_root(artifact_uri)
    rel = check_relative(path)
    target = resolve(root, rel)
    if target.is_file():
        return [FileInfo(rel, False, target.stat().st_size)]
    if not target.is_dir():
        return []
    infos = []
    for entry in sorted(os.scandir(target), key=lambda e: e.name):
        # Links are left out, as download_artifacts leaves them out.
        if entry.name.startswith(TMP_PREFIX) or entry.is_symlink():
            continue
        child = posixpath.join(rel, entry.name) if rel else entry.name
        if entry.is_dir(follow_symlinks=False):
            infos.append(FileInfo(child, True, None))
        elif entry.is_file(follow_symlinks=False):
            infos.append(FileInfo(child, False, entry.stat(follow_symlinks=False).st_size))
    return infos


def download_artifacts(
    artifact_uri: str, path: str | None = None, dst_path: str | os.PathLike | None = None
) -> Path:
    """Copy `path` (file or directory) out of the store into `dst_path` (a new
    temporary directory when None) and return the local copy's path. A copy
    keeps callers from modifying the store by accident.

    A directory is copied without following any symbolic link inside it: links
    (to files or directories, inside the store or out of it) and anything that
    is not a regular file or directory (FIFOs, sockets, devices) are skipped.
    The store never writes a link itself (logging copies content), so one found
    there was planted and may lead anywhere. `path` itself may be a link only
    when it resolves inside the run's artifact directory (as for every path).
    """
    root = artifact_root(artifact_uri)
    rel = check_relative(path)
    source = resolve(root, rel)
    if not source.exists():
        raise NotFound(
            f"Artifact '{rel or '/'}' does not exist under '{artifact_uri}'. "
            "List the run's artifacts to see what was logged."
        )
    dst = (
        Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="mlc-artifacts-"))
    )
    dst.mkdir(parents=True, exist_ok=True)
    # The whole tree lands in dst itself, a single entry under its own name.
    out = dst / posixpath.basename(rel) if rel else dst
    if source.is_dir():
        directory = os.open(source, os.O_RDONLY | os.O_DIRECTORY)
        try:
            _copy_tree_without_links(directory, out)
        finally:
            os.close(directory)
    else:
        shutil.copy2(source, out)
    return out


_NO_FOLLOW = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)


def _copy_tree_without_links(directory: int, out: Path) -> None:
    """Copy the tree open as `directory` into `out`. Every entry is opened
    relative to its parent's descriptor with O_NOFOLLOW, so a link swapped in
    while copying is refused by the kernel rather than followed."""
    out.mkdir(parents=True, exist_ok=True)
    with os.scandir(directory) as entries:
        children = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in entries)
    for name, is_dir in children:
        if name.startswith(TMP_PREFIX):
            continue
        flags = _NO_FOLLOW | (os.O_DIRECTORY if is_dir else os.O_NONBLOCK)
        try:
            child = os.open(name, flags, dir_fd=directory)
        except OSError:
            continue  # a link (ELOOP/ENOTDIR), or gone since listing
        try:
            kind = stat.S_IFMT(os.fstat(child).st_mode)
            if kind == stat.S_IFDIR:
                _copy_tree_without_links(child, out / name)
            elif kind == stat.S_IFREG:
                _copy_open_file(child, out / name)
        finally:
            os.close(child)


def _copy_open_file(fd: int, dest: Path) -> None:
    os.set_blocking(fd, True)
    with os.fdopen(os.dup(fd), "rb") as source:
        atomic_write(dest, lambda fh: shutil.copyfileobj(source, fh, length=1 << 20))
    try:
        os.chmod(dest, stat.S_IMODE(os.fstat(fd).st_mode))
    except OSError:
        pass  # permissions are a nicety; the content is what matters
