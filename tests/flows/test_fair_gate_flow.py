"""The fair gate end to end: training runs on a real Prefect server and a real
store, a CSV source whose days repeat the day two before them (a window of 3
sees it, a window of 1 cannot), the decision on the version, in the run's
artifact, in the model card and in `mlcadence models show`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from mlcadence.cli import app
from mlcadence.flows.training import training
from mlcadence.tasks.artifacts import model_card


def echo_prices(path, days: int = 500, seed: int = 11) -> str:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, days)
    for t in range(2, days):
        labels[t] = labels[t - 2] if rng.random() > 0.1 else rng.integers(0, 2)
    index = pd.date_range("2021-01-01", periods=days, freq="D", name="Date")
    opens = np.full(days, 100.0)
    frame = pd.DataFrame({"Open": opens, "Close": opens + np.where(labels == 1, 1, -1)}, index)
    frame.to_csv(path)
    return f"csv:{path}"


def test_a_better_model_is_promoted_and_a_random_split_one_is_refused(store, run_flow, tmp_path):
    source = echo_prices(tmp_path / "prices.csv")
    first = run_flow(training, source=source, register_as="echo", window=1)
    assert first.champion_changed and first.params["label_rule"] == "close_minus_open"
    better = run_flow(training, source=source, register_as="echo", window=3, gate_folds=4)
    assert better.champion_changed, better.decision["reason"]
    assert store.get_registered_model("echo").aliases["champion"] == 2

    tags = store.get_model_version("echo", 2).tags
    assert tags["mlcadence.gate.decision"] == "promoted"
    assert tags["mlcadence.gate.test"] == "paired bootstrap"
    assert float(tags["mlcadence.gate.p_value"]) < 0.01
    assert tags["mlcadence.gate.evaluation"].startswith("walk-forward, 4 folds")
    assert len(tags["mlcadence.gate.challenger_folds"].split()) == 4
    assert len(tags["mlcadence.gate.champion_folds"].split()) == 4
    artifact = store.artifact_path(better.run_id, "gate/comparison.json")
    recorded = json.loads(artifact.read_text())
    assert recorded["p_value"] == better.decision["p_value"]
    assert len(recorded["evaluation"]["folds"]) == 4

    card = model_card("echo", better)
    assert "- test: paired bootstrap, p = " in card
    assert "| fold | days | challenger accuracy | champion accuracy |" in card
    assert card.count("\n| 4 | ") == 1 and "| mean ± std |" in card

    # a random split's test days were seen by its neighbours in training: refused
    lucky = run_flow(training, source=source, register_as="echo", window=3, split="random")
    assert not lucky.champion_changed
    assert "--gate-allow-mismatch" in lucky.decision["reason"]
    assert store.get_registered_model("echo").aliases["champion"] == 2

    shown = CliRunner().invoke(app, ["models", "show", "echo"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert "gate decisions" in shown.stdout
    assert "v2 promoted: The challenger scored accuracy" in shown.stdout
    assert "paired bootstrap p=0.0" in shown.stdout
    assert "v3 rejected: Refused to compare with champion v2" in shown.stdout
