"""Detached processes on this machine: which of ours still run, free ports,
HTTP health, log tails, and stopping a process with all it started.

A process is known by its pid and the kernel's start time of that pid, so a
pid recycled by another program is never taken for ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL


@dataclass
class Record:
    """One running service, as written to `<name>.json`."""

    name: str
    pid: int
    proc_start: str | None
    port: int | None
    url: str
    log: str
    api_url: str | None = None
    started_by: str = "up"  # or "auto": a flow command's reusable Prefect server

    def alive(self) -> bool:
        started = process_start_time(self.pid)
        return started is not None and started == self.proc_start


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a live `pid` (None once it has exited, even
    as a zombie): tells our process from a recycled pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as probe:
        # As the servers bind: a port whose old connections linger in
        # TIME_WAIT (just after `down`) is free for them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def http_ok(url: str, timeout: float = 2.0) -> bool:
    import httpx  # only when checking: the CLI's start-up stays light

    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def tail(path: str | Path, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop(record: Record, grace: float = STOP_GRACE) -> None:
    """SIGTERM to the service's process group and to every process it started
    in a session of its own (a flow run of the `serve` process, the model
    server a deploy flow starts), SIGKILL after `grace` seconds."""
    if not record.alive():
        return
    others = descendants(record.pid)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not record.alive():
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record.pid, sig)
        for pid in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while record.alive() and time.monotonic() < deadline:
            _reap(record.pid)
            time.sleep(0.1)
    _reap(record.pid)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, their children, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _reap(pid: int) -> None:
    # A service started by this very process is our child: collect its status
    # so it does not linger as a zombie that still looks alive.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
