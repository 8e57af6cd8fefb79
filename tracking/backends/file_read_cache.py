"""Parsed store files kept in memory, each checked by one `stat` before use.

Every search of the file store reads the same thousands of small files (each
run's meta.yaml, the filter's params and metrics): opening, reading and
parsing them is most of a search's time. A value kept here is used only while
its file's (inode, size, mtime_ns) are unchanged, and every write to the store
changes one of them: rewrites replace the file (a new inode and mtime), metric
lines are appended (a new size), a removed file fails the stat. Another
process may write the store at any time; it needs no help from us.

One hole remains: a write in place, of the same size, within the file
system's timestamp tick of our read keeps all three. So a value whose file
changed less than RECENT_NS before the read is not kept (it is read again
next time), as git treats its "racily clean" files: any later write then
carries a later mtime. The margin covers coarse timestamps (ext4's clock
tick, 1-2 s on some network and FAT file systems).

Each path is always parsed the same way (meta.yaml into a RunInfo, a metric
file into its latest value, a param or tag file into its text), so the path
alone is the key. Values are shared between callers: treat them as read-only.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

RECENT_NS = 2_000_000_000
# About 600 bytes an entry: ~120 MB at most, 60,000 runs' meta and two searched fields each.
MAX_ENTRIES = 200_000

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_MISSING = (FileNotFoundError, NotADirectoryError)


def _read_with_signature(path: str) -> tuple[str, tuple[int, int, int]] | None:
    """(text, signature) from one open file, or None if it does not exist.
    The signature is taken before reading: if the file grows meanwhile the
    next stat differs and the value is read again."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except _MISSING:
        return None
    try:
        st = os.fstat(fd)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8"), (st.st_ino, st.st_size, st.st_mtime_ns)


def as_text(text: str, *_key: str) -> str:
    """The parse for files whose content is the value (params, tags)."""
    return text


class FileReadCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, recent_ns: int = RECENT_NS):
        self.max_entries = max_entries
        self.recent_ns = recent_ns
        # path -> (signature, value); insertion order is eviction order
        self._entries: dict[str, tuple[tuple[int, int, int], Any]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, path: str, parse: Callable[..., Any], *args) -> Any:
        """parse(text, *args) of the file at `path`, None if it does not
        exist. An exception from `parse` propagates and nothing is kept."""
        try:
            st = os.stat(path)
        except _MISSING:
            self._forget(path)
            return None
        hit = self._entries.get(path)
        if hit is not None and hit[0] == (st.st_ino, st.st_size, st.st_mtime_ns):
            return hit[1]
        read = _read_with_signature(path)
        if read is None:
            self._forget(path)
            return None
        text, signature = read
        value = parse(text, *args)
        if signature[2] < time.time_ns() - self.recent_ns:
            with self._lock:
                self._entries.pop(path, None)
                self._entries[path] = (signature, value)
                while len(self._entries) > self.max_entries:
                    del self._entries[next(iter(self._entries))]
        else:
            self._forget(path)
        return value

    def _forget(self, path: str) -> None:
        if path in self._entries:
            with self._lock:
                self._entries.pop(path, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
