"""Exact duplicate metric records are written once in the file store.

A retried `log_batch` (a client that lost the answer, a server restarted
mid-request) sends the same records again. Metric files only ever grow by
whole appended lines, so the lines a file holds are read once and then
incrementally from the last offset seen; a new record whose line is already
there is dropped. The caller holds the run's lock around check and append,
so two writers of the same record cannot both append it.
"""

from __future__ import annotations

import os
from collections import OrderedDict

CACHED_FILES = 1024  # metric files whose lines are kept in memory


class MetricLineIndex:
    def __init__(self) -> None:
        # path -> (inode, offset read up to, lines seen)
        self._files: OrderedDict[str, tuple[int, int, set[bytes]]] = OrderedDict()

    def new_lines(self, path: str, lines: list[bytes]) -> list[bytes]:
        """The lines (each ending in a newline) not yet in the file, nor
        earlier in `lines`."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._files.pop(path, None)
            return list(dict.fromkeys(lines))
        known = self._files.pop(path, None)
        if known is None or known[0] != st.st_ino or known[1] > st.st_size:
            offset, seen = 0, set()
        else:
            offset, seen = known[1], known[2]
        if st.st_size > offset:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
            end = data.rfind(b"\n") + 1  # a partial last line is someone's write in progress
            seen.update(line + b"\n" for line in data[:end].split(b"\n")[:-1])
            offset += end
        fresh = []
        for line in lines:
            if line not in seen:
                seen.add(line)
                fresh.append(line)
        self._files[path] = (st.st_ino, offset, seen)
        if len(self._files) > CACHED_FILES:
            self._files.popitem(last=False)
        return fresh
