"""A sweep candidate run again (its worker died) leaves one finished run per
candidate among the active runs, whatever the dead attempt had reached."""

from __future__ import annotations

import pytest

from mlcadence import tracking
from mlcadence.pipeline.candidate_runs import (
    CANDIDATE_TAG,
    SUPERSEDED_BY_TAG,
    TrackingTarget,
    candidate_key,
    candidate_run,
)
from mlcadence.tracking.entities import RunStatus


@pytest.fixture
def target(tracking_uri) -> TrackingTarget:
    client = tracking.Client(tracking_uri)
    experiment_id = client.create_experiment("sweep")
    parent = client.create_run(experiment_id, run_name="parent")
    return TrackingTarget(tracking_uri, experiment_id, parent.info.run_id)


def attempt(target: TrackingTarget, finish: bool = True) -> str:
    """One attempt at candidate (random_forest, window 7); left RUNNING when
    not `finish`, as a killed worker leaves it."""
    if not finish:
        return _started_only(target)
    with candidate_run(target, "random_forest", 7) as run:
        run.log_params({"window": 7})
    return run.run_id


def _started_only(target: TrackingTarget) -> str:
    """What an attempt has written when its process dies mid-candidate: its
    run, created with the candidate's key, still RUNNING."""
    key = candidate_key(target.parent_run_id, "random_forest", 7)
    run = target.client().create_run(target.experiment_id, tags={CANDIDATE_TAG: key})
    return run.info.run_id


def test_an_attempt_that_died_running_ends_failed_and_points_at_its_replacement(target):
    dead = attempt(target, finish=False)
    again = attempt(target)
    client = target.client()
    orphan = client.get_run(dead)
    assert orphan.info.status == RunStatus.FAILED
    assert orphan.data.tags[SUPERSEDED_BY_TAG] == again
    assert client.get_run(again).info.status == RunStatus.FINISHED


def test_an_attempt_that_finished_before_its_worker_died_is_deleted_not_counted_twice(target):
    first = attempt(target)
    again = attempt(target)
    client = target.client()
    active = client.search_runs([target.experiment_id], f"tags.`{CANDIDATE_TAG}` != ''")
    assert [r.info.run_id for r in active] == [again]
    retired = client.get_run(first)
    assert retired.info.lifecycle_stage == "deleted"
    assert retired.data.tags[SUPERSEDED_BY_TAG] == again
