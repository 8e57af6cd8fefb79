"""Where a sweep's candidates train: the task runners, by name or scheme.

`threads` (this process), `dask` (a local Dask cluster of worker processes),
`dask://HOST:PORT` (an existing Dask scheduler, whose workers may be on
other machines) and `ray` (a local Ray instance, through prefect-ray). Prefect and its integrations are imported by the builders
only, so the CLI and the parameter model can read this table without them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcadence.pipeline.errors import InvalidConfig
from mlcadence.tracking.conventions import uri_scheme
from mlcadence.tracking.tracking_uri import LOCAL_STORE_PATHS, TRACKING_URI_ENV

DEFAULT_TASK_RUNNER = "threads"
# Threads in this process: the flow's long-standing default.
THREAD_WORKERS = 4
ADDRESS_PATTERN = r"[A-Za-z0-9.\-]+:[0-9]{1,5}"


def _threads(_address: str) -> Any:
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=THREAD_WORKERS)


def _local_dask(_address: str) -> Any:
    from prefect_dask import DaskTaskRunner

    # Worker processes (not threads) so candidates train in parallel; no
    # dashboard, whose fixed port would clash between concurrent sweeps.
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"processes": True, "threads_per_worker": 1, "dashboard_address": None},
    )


def _dask_scheduler(address: str) -> Any:
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=f"tcp://{address}")


def _local_ray(_address: str) -> Any:
    from prefect_ray import RayTaskRunner

    # A local Ray instance; no dashboard (its fixed port would clash).
    return RayTaskRunner(init_kwargs={"include_dashboard": False})


@dataclass(frozen=True)
class RunnerKind:
    build: Callable[[str], Any]
    # Its workers may run on other machines, so they reach the tracking store
    # over the network only.
    remote: bool
    # The name takes `HOST:PORT` after it.
    takes_address: bool = False


RUNNERS: dict[str, RunnerKind] = {
    "threads": RunnerKind(_threads, remote=False),
    "dask": RunnerKind(_local_dask, remote=False),
    "dask://": RunnerKind(_dask_scheduler, remote=True, takes_address=True),
    "ray": RunnerKind(_local_ray, remote=False),
}

TASK_RUNNER_PATTERN = (
    "^("
    + "|".join(
        re.escape(name) + (ADDRESS_PATTERN if kind.takes_address else "")
        for name, kind in RUNNERS.items()
    )
    + ")$"
)
TASK_RUNNER_HELP = (
    "threads (this process), dask (a local Dask cluster), dask://HOST:PORT (an existing "
    "Dask scheduler), or ray (a local Ray instance)"
)


def kind_of(spec: str) -> tuple[RunnerKind, str]:
    """The runner kind named by `spec` and its address ('' when it takes none)."""
    name, sep, address = spec.partition("://")
    kind = RUNNERS.get(name + sep)
    if kind is None or kind.takes_address != bool(address):
        raise InvalidConfig(f"--task-runner {spec!r} is not accepted: use {TASK_RUNNER_HELP}.")
    return kind, address


def build(spec: str) -> Any:
    """A fresh Prefect task runner for `spec` (enter it to start it)."""
    kind, address = kind_of(spec)
    return kind.build(address)


def require_reachable_store(spec: str, tracking_uri: str, origin: str) -> None:
    """Refuse a store on this machine's disk (a file store, a sqlite file)
    when candidates may train elsewhere: remote workers would log into their
    own empty copy, or fail. `origin` says where the URI came from."""
    kind, _ = kind_of(spec)
    if kind.remote and uri_scheme(tracking_uri) in LOCAL_STORE_PATHS:
        raise InvalidConfig(
            f"--task-runner {spec} trains candidates on Dask workers that may run on other "
            f"machines, and they cannot reach the tracking store {tracking_uri} ({origin}): it "
            f"is a file on this machine. Set --tracking-uri (or {TRACKING_URI_ENV}) to a "
            "tracking server (http(s)://HOST:PORT of `mlcadence server`) or a PostgreSQL "
            "database (postgresql://USER:PASSWORD@HOST/DB), or use --task-runner dask for a "
            "local cluster, which may log to any store."
        )
