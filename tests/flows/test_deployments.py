"""Deployments are declared once, in prefect.yaml: `python -m
mlcadence.flows.serve` builds the same ones `prefect deploy --all` does."""

from __future__ import annotations

import pytest
import yaml
from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
from prefect.cli.deploy._triggers import _initialize_deployment_triggers

from mlcadence.flows import serve
from mlcadence.pipeline.errors import InvalidConfig


def all_yaml_entries() -> list[dict]:
    return yaml.safe_load(serve.PREFECT_YAML.read_text())["deployments"]


def yaml_entries() -> list[dict]:
    """The process pool's entries: the ones serve runs."""
    return [e for e in all_yaml_entries() if e["work_pool"]["name"] == "mlcadence-pool"]


def test_serve_builds_one_deployment_per_prefect_yaml_entry():
    served = serve.deployments()
    assert [d.name for d in served] == [e["name"] for e in yaml_entries()]
    assert [d.name for d in served] == ["train", "retrain", "sweep", "deploy"]


def test_the_docker_pool_runs_train_and_retrain_as_declared_once():
    """The Docker pool's deployments are the process ones (same flow, tags,
    schedule) with the container's job variables; serve leaves them out."""
    by_name = {e["name"]: e for e in all_yaml_entries()}
    assert {n for n, e in by_name.items() if serve.runs_in_container(e)} == {
        "train-docker",
        "retrain-docker",
    }
    for name in ("train", "retrain"):
        docker, process = by_name[f"{name}-docker"], by_name[name]
        same = ("entrypoint", "description", "tags", "concurrency_limit")
        assert {k: docker.get(k) for k in same} == {k: process.get(k) for k in same}
        pool = docker["work_pool"]
        assert pool["name"] == "mlcadence-docker-pool"
        assert pool["job_variables"]["network_mode"] == "host"
        assert pool["job_variables"]["image"] == "{{ flow-image.image }}"
        assert pool["job_variables"]["env"] == "{{ flow-image.env }}"
        (step,) = docker["build"]
        assert step["mlcadence.flows.docker_pool.flow_image"]["id"] == "flow-image"
    # Never two daily retrains from one `deploy`: the container's is off until switched on.
    assert [s["active"] for s in by_name["retrain-docker"]["schedules"]] == [False]


@pytest.mark.parametrize("entry", yaml_entries(), ids=lambda e: e["name"])
def test_served_deployment_matches_what_prefect_deploy_reads(entry):
    """Expected values come from Prefect's own prefect.yaml readers (the ones
    `prefect deploy` uses), not from serve.py."""
    (served,) = [d for d in serve.deployments() if d.name == entry["name"]]
    module, _, flow_attr = entry["entrypoint"].partition(":")
    assert served.entrypoint == f"{module}.{flow_attr}"
    assert served.flow_name == serve.load_flow(entry["entrypoint"]).name
    assert served.parameters == (entry.get("parameters") or {})
    assert served.tags == entry["tags"] and served.description == entry["description"]
    assert served.concurrency_limit == entry.get("concurrency_limit")

    expected_schedules = [
        _schedule_config_to_deployment_schedule(s) for s in entry.get("schedules") or []
    ]
    assert [(s.schedule, s.active) for s in served.schedules] == [
        (s["schedule"], s.get("active", True)) for s in expected_schedules
    ]
    expected_triggers = _initialize_deployment_triggers(
        entry["name"], [dict(t) for t in entry.get("triggers") or []]
    )
    assert [t.model_dump() for t in served.triggers] == [t.model_dump() for t in expected_triggers]


def test_the_retrain_schedule_and_the_promotion_trigger_are_served():
    by_name = {d.name: d for d in serve.deployments()}
    assert by_name["retrain"].schedules[0].schedule.cron == "0 6 * * *"
    (trigger,) = by_name["deploy"].triggers
    assert trigger.expect == {"mlcadence.model.promoted"}
    assert trigger.parameters["model_uri"] == "{{ event.payload.model_uri }}"


def test_a_missing_prefect_yaml_says_how_to_give_one(tmp_path):
    with pytest.raises(InvalidConfig, match="give its path"):
        serve.deployments(tmp_path / "prefect.yaml")


def test_an_unknown_schedule_kind_is_named():
    with pytest.raises(InvalidConfig, match="cron, interval"):
        serve.schedule_from({"every": "day"})
