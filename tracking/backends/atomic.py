"""Crash- and concurrency-safe file primitives for the file store.

Three kinds of write, each chosen so a concurrent reader never sees a torn
file and concurrent writers never lose each other's data:

- `replace_file`: rewrites (meta.yaml, tags). Write a temp file, then
  `os.replace` it over the target; readers see the old or the new content.
- `create_file_once`: write-once values (params, default experiment). Write a
  temp file, then `os.link` it to the target, which fails if the target exists,
  so of two racing writers exactly one wins, across processes too.
- `append_bytes`: metric lines. One `os.write` on an O_APPEND descriptor, so
  concurrent appenders never interleave partial lines.

Whole entries (an experiment, a run, a registered model, a model version) are
built in a staging directory (`new_staging_dir`) and renamed into place by
`publish_dir`, so a process killed half-way leaves nothing where a reader,
ours or MLflow's, would look: only an orphan in the staging area.

Temp files are named `.tmp-…` and live in a directory the caller chooses
(the entity's own directory, never a `tags/` or `params/` folder), so no
reader, ours or MLflow's, mistakes one for a key.

`fsync=True` (the file backend passes MLCADENCE_FILE_FSYNC through) makes a
rewrite durable before it becomes visible; MLflow's file store does not fsync.
"""

from __future__ import annotations

import errno
import os
import uuid

TMP_PREFIX = ".tmp-"

_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _temp_file(tmp_dir: str, data: bytes | str, fsync: bool) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = os.path.join(tmp_dir, f"{TMP_PREFIX}{uuid.uuid4().hex}")
    fd = os.open(path, _CREATE_FLAGS, 0o666)
    try:
        _write_all(fd, data)
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(path)
        raise
    os.close(fd)
    return path


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _with_parents(operation, path: str):
    """Run `operation()`; if the parent of `path` is missing, create it and retry.
    Parents usually exist, so the common case costs no extra system call."""
    try:
        return operation()
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return operation()


def replace_file(
    path: str, data: bytes | str, tmp_dir: str | None = None, fsync: bool = False
) -> None:
    """Atomically make `path` hold `data` (parents created as needed)."""
    tmp = _temp_file(tmp_dir or os.path.dirname(path), data, fsync)
    try:
        _with_parents(lambda: os.replace(tmp, path), path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def create_file_once(
    path: str, data: bytes | str, tmp_dir: str | None = None, fsync: bool = False
) -> bool:
    """Create `path` holding `data` unless it exists. True if this call created it.

    The content is complete before the name appears, and `link` refuses an
    existing name, so a reader sees either nothing or the whole value."""
    tmp = _temp_file(tmp_dir or os.path.dirname(path), data, fsync)
    try:
        _with_parents(lambda: os.link(tmp, path), path)
        return True
    except FileExistsError:
        return False
    finally:
        _unlink_quietly(tmp)


def new_staging_dir(staging_area: str) -> str:
    """A fresh, empty directory inside `staging_area` (created as needed).

    Plain mkdir rather than tempfile.mkdtemp: the directory becomes the
    published entry, so it takes the usual umask permissions, not mkdtemp's
    owner-only 0700."""
    os.makedirs(staging_area, exist_ok=True)
    path = os.path.join(staging_area, f"{TMP_PREFIX}{uuid.uuid4().hex}")
    os.mkdir(path)
    return path


def publish_dir(staged: str, target: str) -> bool:
    """Rename the finished directory `staged` to `target` in one step. False,
    and nothing moved, when `target` already holds an entry.

    rename() refuses to replace a non-empty directory, and a staged entry is
    never empty (it holds its meta.yaml), so of two racing publishers exactly
    one wins, across processes too."""
    try:
        os.rename(staged, target)
        return True
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise


def append_bytes(path: str, data: bytes) -> None:
    """Append `data` (whole lines) to `path` with a single write."""
    # Inline rather than _with_parents: this is the metric hot path.
    try:
        fd = os.open(path, _APPEND_FLAGS, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, _APPEND_FLAGS, 0o666)
    try:
        written = os.write(fd, data)
        if written != len(data):  # disk full or a signal; finish rather than tear the line
            _write_all(fd, data[written:])
    finally:
        os.close(fd)


def read_text(path: str) -> str | None:
    """File content as UTF-8, or None when the file does not exist."""
    # os.read on a raw descriptor: search reads thousands of tiny files and
    # a buffered file object costs more than the read itself.
    try:
        fd = os.open(path, _READ_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8")


def list_files(directory: str) -> list[str]:
    """Relative POSIX paths of every file under `directory` (nested keys);
    [] if the directory does not exist. Temp files never live in key folders."""
    found: list[str] = []
    stack = [(directory, "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, prefix + entry.name + "/"))
            else:
                found.append(prefix + entry.name)
    return found


def read_values(directory: str) -> dict[str, str]:
    """Every key file under `directory` (params, tags) as {key: value}; a file
    removed between listing and reading is simply absent."""
    values = {}
    for key in list_files(directory):
        text = read_text(os.path.join(directory, key))
        if text is not None:
            values[key] = text
    return values
