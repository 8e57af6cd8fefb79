"""A small store with what the UI shows: a training experiment with a sweep
(parent and child runs, metric histories, params, tags, artifacts), a
registered model whose versions went through the real promotion gate, and a
deleted experiment. Logged with our Client, as any flow logs."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlcadence import tracking
from mlcadence.pipeline import promotion

MODEL = "stockpred"
MODELS = ("random_forest", "ridge", "random_forest", "gradient_boosting")
ACCURACY = (0.61, 0.48, 0.67, 0.55)


@dataclass
class Seeded:
    experiment_id: str
    deleted_experiment_id: str
    parent_id: str
    child_ids: list[str] = field(default_factory=list)
    accuracy: dict[str, float] = field(default_factory=dict)  # run id -> last accuracy
    loss_history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    decisions: dict[int, str] = field(default_factory=dict)  # version -> gate outcome


def seed(backend_uri: str) -> Seeded:
    client = tracking.Client(backend_uri)
    experiment_id = client.create_experiment("stock-training")
    deleted = client.create_experiment("abandoned")
    client.delete_experiment(deleted)
    client.set_terminated(client.create_run("0", run_name="scratch").info.run_id, "FINISHED")

    parent = client.create_run(experiment_id, run_name="sweep")
    client.set_tag(parent.info.run_id, "mlflow.source.git.commit", "0123abc")
    client.set_tag(parent.info.run_id, "mlcadence.prefect.flow_name", "sweep")
    seeded = Seeded(experiment_id, deleted, parent.info.run_id)
    now = parent.info.start_time
    for index, (model, accuracy) in enumerate(zip(MODELS, ACCURACY, strict=True)):
        run = client.create_run(
            experiment_id,
            run_name=f"trial-{index}",
            tags={"mlflow.parentRunId": parent.info.run_id},
            start_time=now + 1000 * (index + 1),
        )
        run_id = run.info.run_id
        client.log_param(run_id, "model", model)
        client.log_param(run_id, "window", str(10 * (index + 1)))
        history = [(step, round(1.0 / (step + 1 + index), 4)) for step in range(6)]
        for step, value in history:
            client.log_metric(run_id, "loss", value, now + step, step)
        client.log_metric(run_id, "accuracy", accuracy, now, 0)
        client.log_text(
            run_id, "date,close\n2024-01-02,101.5\n2024-01-03,102.25\n", "data/sample.csv"
        )
        client.log_dict(run_id, {"model": model, "window": 10 * (index + 1)}, "config.json")
        client.set_terminated(run_id, "FINISHED", now + 1000 * (index + 1) + 65_000)
        seeded.child_ids.append(run_id)
        seeded.accuracy[run_id] = accuracy
        seeded.loss_history[run_id] = history
    client.set_terminated(parent.info.run_id, "FINISHED", now + 70_000)

    client.create_registered_model(MODEL)
    for run_id in seeded.child_ids[:3]:
        version = int(client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id).version)
        decision = promotion.gate(
            client,
            MODEL,
            version,
            metric="accuracy",
            challenger_score=seeded.accuracy[run_id],
            run_id=run_id,
        )
        seeded.decisions[version] = decision.outcome
    return seeded
