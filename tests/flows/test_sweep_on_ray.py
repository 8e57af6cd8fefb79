"""The sweep on Ray through prefect-ray: a local Ray instance (worker
processes) trains the candidates; each logs its child run to the store."""

from __future__ import annotations

import os

import pytest

from mlcadence.flows.sweep import sweep
from mlcadence.tracking.entities import RunStatus
from mlcadence.tracking.reaper import PID_TAG

pytestmark = pytest.mark.integration


def test_ray_task_runner_trains_every_candidate_in_ray_worker_processes(store, run_flow):
    result = run_flow(
        sweep,
        source="synthetic:3",
        windows=[5, 10],
        models=["random_forest", "logistic_regression"],
        register_as="swept-ray",
        task_runner="ray",
    )
    parent = result.extra["parent_run_id"]
    children = store.search_runs([result.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    assert len(children) == 4
    assert all(c.info.status == RunStatus.FINISHED for c in children)
    assert str(os.getpid()) not in {c.data.tags[PID_TAG] for c in children}
    best = max(children, key=lambda c: c.data.metrics["accuracy"])
    assert store.get_model_version("swept-ray", 1).run_id == best.info.run_id
