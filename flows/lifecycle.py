"""A tracking run whose status follows the flow that opened it.

FINISHED when the body returns, KILLED when the run is cancelled
(KeyboardInterrupt, Prefect's termination signal, asyncio cancellation),
FAILED on any other error. The error always propagates, so Prefect marks the
flow run Failed/Cancelled as well. A process killed with SIGKILL cannot do
this; `mlcadence runs reap` finds its run through the owner tags tracking
writes, and the `on_cancellation` hook below covers cancellations that kill
the flow's process from outside.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.exceptions import TerminationSignal

from mlcadence import tracking
from mlcadence.tasks.record import FLOW_RUN_ID_TAG, lineage_tags
from mlcadence.tracking.entities import RunStatus
from mlcadence.tracking.errors import TrackingError

CANCELLATIONS = (KeyboardInterrupt, asyncio.CancelledError, TerminationSignal)


def status_for(exc: BaseException | None) -> RunStatus:
    if exc is None:
        return RunStatus.FINISHED
    if isinstance(exc, CANCELLATIONS):
        return RunStatus.KILLED
    return RunStatus.FAILED


@contextmanager
def tracked_run(
    experiment: str | None,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    nested: bool = False,
) -> Iterator[tracking.ActiveRun]:
    experiment_id = None
    if experiment and not nested:
        experiment_id = tracking.set_experiment(experiment).experiment_id
    run = tracking.start_run(
        run_name=run_name,
        experiment_id=experiment_id,
        nested=nested,
        tags={**lineage_tags(), **(tags or {})},
    )
    try:
        yield run
    except BaseException as exc:
        _end(run, status_for(exc))
        raise
    _end(run, RunStatus.FINISHED)


def _end(run: tracking.ActiveRun, status: RunStatus) -> None:
    # Children left open by the body end with their parent, innermost first.
    while (current := tracking.active_run()) is not None:
        tracking.end_run(status.name)
        if current.run_id == run.run_id:
            return


def mark_runs_of_flow_run(flow_run_id: str, status: RunStatus) -> list[str]:
    """End every RUNNING tracking run opened by `flow_run_id` with `status`."""
    client = tracking.Client()
    ids = [e.experiment_id for e in client.search_experiments()]
    if not ids:
        return []
    runs = client.search_runs(
        ids, f"tags.`{FLOW_RUN_ID_TAG}` = '{flow_run_id}' AND attributes.status = 'RUNNING'"
    )
    for run in runs:
        client.set_terminated(run.info.run_id, status.name)
    return [run.info.run_id for run in runs]


def on_cancellation(flow, flow_run, state) -> None:
    """Prefect hook: the flow run was cancelled (its process may be gone)."""
    try:
        mark_runs_of_flow_run(str(flow_run.id), RunStatus.KILLED)
    except TrackingError:
        pass  # the store is unreachable: `mlcadence runs reap` will clean up


def on_crashed(flow, flow_run, state) -> None:
    try:
        mark_runs_of_flow_run(str(flow_run.id), RunStatus.FAILED)
    except TrackingError:
        pass
