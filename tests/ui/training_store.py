"""A store made the way users make one: `mlcadence train` and `mlcadence sweep`
(the real training flow, on the session's Prefect server) in child
processes, on synthetic data. What the pages should show is then read back
from the store itself, never assumed.

Three commands give a champion history with both outcomes: a first training
(promoted: no champion yet), a sweep of a tiny grid (its best candidate gated
against that champion) and the first training again (version 1's score
once more, which cannot beat a champion at least as good: rejected). The
tests assert the decisions the store records, whatever they are.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mlcadence import tracking
from tests.tracking.server_fixtures import MLCADENCE, ServerProcess

MODEL = "stockpred"
TRAIN = ["train", "--source", "synthetic:42", "--register-as", MODEL, "--quiet"]
SWEEP = [
    "sweep",
    "--source",
    "synthetic:42",
    "--windows",
    "7,14",
    "--models",
    "random_forest,logistic_regression",
    "--register-as",
    MODEL,
    "--quiet",
]
COMMANDS = (TRAIN, SWEEP, TRAIN)
GATE_DECISION_TAG = "mlcadence.gate.decision"


@dataclass
class TrainingStore:
    backend_uri: str
    experiment_id: str
    deleted_experiment_id: str
    sweep_parent_id: str
    sweep_child_ids: list[str]
    run_ids: list[str]  # every run of the training experiment
    decisions: dict[int, str] = field(default_factory=dict)  # version -> gate decision


def run_cli(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [*MLCADENCE, *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"mlcadence {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def cli_env(backend_uri: str, workdir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "MLCADENCE_TRACKING_URI": backend_uri,
        "MLCADENCE_CACHE_DIR": str(workdir / "cache"),
        "MLCADENCE_STATE_DIR": str(workdir / "state"),
        **extra,
    }


def build_training_store(backend_uri: str, workdir: Path, commands=COMMANDS) -> TrainingStore:
    """Run `commands` against the store at `backend_uri`, add a deleted
    experiment, and describe what the store now holds."""
    env = cli_env(backend_uri, workdir)
    for argv in commands:
        run_cli(argv, env, workdir)
    client = tracking.Client(backend_uri)
    deleted = client.create_experiment("abandoned")
    client.delete_experiment(deleted)
    (experiment,) = [e for e in client.search_experiments() if e.experiment_id != "0"]
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    parents = {r.data.tags["mlflow.parentRunId"] for r in children}
    decisions = {
        int(v.version): v.tags[GATE_DECISION_TAG]
        for v in client.search_model_versions(f"name='{MODEL}'")
        if GATE_DECISION_TAG in v.tags
    }
    return TrainingStore(
        backend_uri=backend_uri,
        experiment_id=experiment.experiment_id,
        deleted_experiment_id=deleted,
        sweep_parent_id=parents.pop() if len(parents) == 1 else "",
        sweep_child_ids=[r.info.run_id for r in children],
        run_ids=[r.info.run_id for r in runs],
        decisions=decisions,
    )


def start_server(backend_uri: str, folder: Path) -> ServerProcess:
    """A `mlcadence server` on the store, for a whole module (the
    `tracking_server` fixture is per test)."""
    folder.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(
        backend_uri, folder / "mlartifacts", folder / "server.log", (), dict(os.environ)
    )
    return server.start()
