"""The flows' parameters are declared once (flows/parameters.py): the flows'
schemas, the CLI's options and prefect.yaml all read them. No server needed."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from prefect.utilities.callables import parameter_schema
from typer.testing import CliRunner

from mlcadence.cli import app
from mlcadence.flows import parameters as declared
from mlcadence.flows.retraining import retraining
from mlcadence.flows.serve import PREFECT_YAML, load_flow
from mlcadence.flows.sweep import sweep
from mlcadence.flows.training import training

FLOWS = {
    training: declared.TrainingParameters,
    retraining: declared.RetrainingParameters,
    sweep: declared.SweepParameters,
}


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_every_flow_parameter_has_a_description_for_the_ui_form(flow):
    properties = parameter_schema(flow).model_dump()["properties"]
    assert set(properties) == set(FLOWS[flow].model_fields)
    undescribed = [name for name, schema in properties.items() if not schema.get("description")]
    assert undescribed == []


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_flow_schema_defaults_are_the_models_defaults(flow):
    properties = parameter_schema(flow).model_dump()["properties"]
    defaults = FLOWS[flow]().model_dump(mode="json")
    assert {name: schema.get("default") for name, schema in properties.items()} == defaults


def test_flow_schema_keeps_the_constraints_the_server_enforces():
    properties = parameter_schema(training).model_dump()["properties"]
    assert properties["window"]["minimum"] == 1 and properties["window"]["maximum"] == 365
    assert properties["source"]["pattern"].startswith("^(fred|csv|synthetic)")
    assert properties["register_as"]["anyOf"][0]["pattern"]
    windows = parameter_schema(sweep).model_dump()["properties"]["windows"]
    assert windows["items"]["minimum"] == 1
    assert properties["model"]["enum"] == [
        "random_forest",
        "logistic_regression",
        "gradient_boosting",
    ]


def test_takes_hands_the_body_a_validated_model_with_defaults_filled_in():
    seen = []

    @declared.takes(declared.TrainingParameters)
    async def body(parameters: declared.TrainingParameters):
        seen.append(parameters)

    # what Prefect passes for a parameter nobody set: the signature's Field
    unset = declared.TrainingParameters.model_fields["model"]
    asyncio.run(body(window=3, start="2020-01-02", model=unset))
    (received,) = seen
    assert received.window == 3 and received.model == "random_forest"
    assert received.start_day() == "2020-01-02" and received.source == "synthetic:42"


def test_retraining_always_gates_its_training_run():
    retrain = declared.RetrainingParameters(window=9, deploy="off")
    trained = retrain.training()
    assert trained.promote and trained.window == 9 and trained.refresh_data
    assert trained.register_as == "stockpred"


def test_prefect_yaml_parameters_only_override_defaults():
    entries = yaml.safe_load(PREFECT_YAML.read_text())["deployments"]
    for entry in entries:
        flow = load_flow(entry["entrypoint"])
        properties = parameter_schema(flow).model_dump()["properties"]
        for name, value in (entry.get("parameters") or {}).items():
            assert name in properties, f"{entry['name']}: no parameter {name}"
            assert value != properties[name].get("default"), (
                f"{entry['name']}: {name}={value!r} restates the default"
            )


def test_train_help_shows_the_parameter_descriptions():
    shown = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "400"})
    assert shown.exit_code == 0
    for field in (
        "source",
        "window",
        "model",
        "test_size",
        "min_improvement",
        "gate_confidence",
        "gate_folds",
        "gate_unscorable",
        "gate_allow_mismatch",
    ):
        description = declared.TrainingParameters.model_fields[field].description
        assert description in shown.stdout, field


def test_cli_defaults_are_the_models_defaults():
    import typer.main

    command = typer.main.get_command(app)
    for name, model in (
        ("train", declared.TrainingParameters),
        ("sweep", declared.SweepParameters),
    ):
        options = {p.name: p.default for p in command.commands[name].params}
        for field, info in model.model_fields.items():
            if field in options and field not in ("windows", "models"):  # comma-separated
                assert options[field] == info.default, (name, field)
    sweep_options = {p.name: p.default for p in command.commands["sweep"].params}
    assert sweep_options["windows"] == "7,14,28"
    assert sweep_options["models"] == "random_forest,logistic_regression,gradient_boosting"
