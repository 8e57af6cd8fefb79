"""Sweep (fan-out, child runs, best registered) and retraining (gate → deploy)."""

from __future__ import annotations

from mlcadence.flows.retraining import retraining
from mlcadence.flows.sweep import sweep
from mlcadence.tracking.entities import RunStatus


def test_sweep_fans_out_child_runs_and_registers_the_best(store, run_flow):
    result = run_flow(
        sweep,
        source="synthetic:4",
        windows=[5, 10],
        models=["random_forest", "logistic_regression"],
        register_as="swept",
    )
    parent_id = result.extra["parent_run_id"]
    exp = store.get_experiment_by_name("stockpred")
    runs = store.search_runs([exp.experiment_id])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id]
    assert len(children) == 4 and len(runs) == 5
    assert {(c.data.params["model"], c.data.params["window"]) for c in children} == {
        (m, w) for m in ("random_forest", "logistic_regression") for w in ("5", "10")
    }
    assert all(r.info.status == RunStatus.FINISHED for r in runs)
    best = max(children, key=lambda c: c.data.metrics["accuracy"])
    assert result.run_id == best.info.run_id
    version = store.get_model_version("swept", 1)
    assert version.run_id == best.info.run_id
    assert sorted(version.aliases) == ["challenger", "champion"]
    parent = store.get_run(parent_id)
    assert parent.data.tags["mlcadence.sweep.best_run_id"] == best.info.run_id
    assert parent.data.metrics["best_accuracy"] == best.data.metrics["accuracy"]


def test_retraining_promotes_once_then_keeps_the_champion(store, run_flow):
    first = run_flow(retraining, source="synthetic:5", register_as="retrained", deploy="off")
    second = run_flow(retraining, source="synthetic:5", register_as="retrained", deploy="inline")
    assert first.champion_changed and not second.champion_changed
    assert "deploy" not in second.extra  # nothing deployed when the champion stays
    assert store.get_registered_model("retrained").aliases["champion"] == 1
