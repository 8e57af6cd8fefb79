"""A tracking run's status follows the code that opened it (no server needed)."""

from __future__ import annotations

import asyncio

import pytest
from prefect.exceptions import TerminationSignal

from mlcadence.flows import lifecycle
from mlcadence.tasks.record import FLOW_RUN_ID_TAG
from mlcadence.tracking.entities import RunStatus


@pytest.fixture
def client(tracking_uri):
    from mlcadence import tracking

    tracking.set_tracking_uri(None)
    return tracking.Client(tracking_uri)


@pytest.mark.parametrize(
    "raised,status",
    [
        (None, RunStatus.FINISHED),
        (ValueError("boom"), RunStatus.FAILED),
        (KeyboardInterrupt(), RunStatus.KILLED),
        (TerminationSignal(15), RunStatus.KILLED),
        (asyncio.CancelledError(), RunStatus.KILLED),
    ],
)
def test_status_follows_the_body(client, raised, status):
    holder = {}
    try:
        with lifecycle.tracked_run("exp", run_name="r") as run:
            holder["id"] = run.run_id
            if raised is not None:
                raise raised
    except BaseException as exc:  # noqa: BLE001 (re-raised types are the point)
        assert exc is raised  # never swallowed
    assert client.get_run(holder["id"]).info.status == status


def test_children_left_open_end_with_the_parent(client):
    from mlcadence import tracking

    with pytest.raises(RuntimeError):
        with lifecycle.tracked_run("exp") as parent:
            child = tracking.start_run(nested=True)
            raise RuntimeError("x")
    assert client.get_run(child.run_id).info.status == RunStatus.FAILED
    assert client.get_run(parent.run_id).info.status == RunStatus.FAILED
    assert tracking.active_run() is None


def test_cancellation_hook_marks_the_flow_runs_tracking_runs_killed(client):
    from mlcadence import tracking

    exp = client.create_experiment("exp")
    mine = client.create_run(exp, tags={FLOW_RUN_ID_TAG: "fr-1"})
    other = client.create_run(exp, tags={FLOW_RUN_ID_TAG: "fr-2"})

    class FlowRun:
        id = "fr-1"

    lifecycle.on_cancellation(None, FlowRun(), None)
    assert client.get_run(mine.info.run_id).info.status == RunStatus.KILLED
    assert client.get_run(other.info.run_id).info.status == RunStatus.RUNNING
    assert tracking.active_run() is None
