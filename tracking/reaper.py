"""Which process owns a RUNNING run, and marking runs whose owner died as FAILED.

A run started through the fluent API records its owner in tags (pid, host,
and the process start time so a reused pid is not mistaken for the owner).
A process killed with SIGKILL cannot end its run; `reap_stale_runs` finds
such runs later.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

from mlcadence.tracking.entities import Run, RunStatus

PID_TAG = "mlcadence.pid"
HOST_TAG = "mlcadence.host"
PID_START_TAG = "mlcadence.pid_start"


def _process_start(pid: int) -> str | None:
    """Kernel start time of `pid` in clock ticks (Linux); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # Field 2 (comm) may hold spaces and parens; the rest follows the last ')'.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def owner_tags() -> dict[str, str]:
    tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    start = _process_start(os.getpid())
    if start is not None:
        tags[PID_START_TAG] = start
    return tags


def owner_state(tags: dict[str, str]) -> str:
    """'alive', 'gone' or 'unknown' (no owner recorded, or another host)."""
    pid_text, host = tags.get(PID_TAG), tags.get(HOST_TAG)
    if not pid_text or host != socket.gethostname():
        return "unknown"
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ValueError:
        return "unknown"
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        pass  # exists, owned by another user
    recorded_start = tags.get(PID_START_TAG)
    if recorded_start is not None:
        current = _process_start(pid)
        if current is not None and current != recorded_start:
            return "gone"  # the pid now belongs to another process
    return "alive"


@dataclass(frozen=True)
class ReapDecision:
    run: Run
    owner: str  # alive | gone | unknown
    reap: bool


def decide(
    runs: list[Run], older_than_s: float | None, now_ms: int | None = None
) -> list[ReapDecision]:
    """Reap RUNNING runs whose owner is gone. Runs with no checkable owner
    are reaped only when `older_than_s` is given and they started earlier than
    that; a live owner is never overruled."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    decisions = []
    for run in runs:
        if run.info.status != RunStatus.RUNNING:
            continue
        owner = owner_state(run.data.tags)
        old_enough = older_than_s is None or run.info.start_time <= now_ms - older_than_s * 1000
        if owner == "gone":
            reap = old_enough
        elif owner == "unknown":
            reap = older_than_s is not None and old_enough
        else:
            reap = False
        decisions.append(ReapDecision(run, owner, reap))
    return decisions


def reap_stale_runs(
    client, older_than_s: float | None = None, dry_run: bool = False
) -> list[ReapDecision]:
    """Mark stale RUNNING runs of every active experiment FAILED; returns all
    RUNNING runs with the decision taken for each."""
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs: list[Run] = []
    for start in range(0, len(experiment_ids), 100):
        runs.extend(
            client.search_runs(
                experiment_ids[start : start + 100],
                filter_string="attributes.status = 'RUNNING'",
                max_results=50_000,
            )
        )
    decisions = decide(runs, older_than_s)
    if not dry_run:
        for d in decisions:
            if d.reap:
                client.set_terminated(d.run.info.run_id, RunStatus.FAILED)
    return decisions
