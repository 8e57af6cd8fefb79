"""What a training run shows in the Prefect UI: a metrics table, a model card,
a link to the model version, and a leaderboard keyed per registered model
(keyed artifacts keep a history, so the UI shows how it changed)."""

from __future__ import annotations

import re
from typing import Any

from prefect import task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from mlcadence import tracking
from mlcadence.pipeline.promotion import version_score
from mlcadence.pipeline.results import TrainingResult
from mlcadence.tracking.errors import NotFound, TrackingError

LEADERBOARD_SIZE = 20


def artifact_key(*parts: str) -> str:
    """Prefect keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def model_card(name: str, result: TrainingResult) -> str:
    """Markdown: where the model is, what it was trained on, how it scored and
    what the gate decided."""
    version, run_id, dataset, decision = (
        result.version,
        result.run_id,
        result.dataset,
        result.decision,
    )
    title = f"{name} v{version}" if version is not None else f"run {run_id} (not registered)"
    alias = "champion" if decision and decision["promote"] else "challenger" if version else "-"
    lines = [
        f"# {title}",
        "",
        f"- tracking run: `{run_id}`",
        f"- model URI: `models:/{name}/{version}`" if version is not None else "- model URI: -",
        f"- alias: **{alias}**",
        f"- data: `{dataset.get('source')}` {dataset.get('start')} → {dataset.get('end')}, "
        f"{dataset.get('rows')} rows, sha256 `{dataset.get('digest', '')[:16]}…`",
        "",
        "## Parameters",
        "",
        "| parameter | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in result.params.items()),
        "",
        "## Metrics (test set)",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {k} | {v:.4f} |" for k, v in result.metrics.items()),
    ]
    if decision is not None:
        lines += ["", "## Promotion gate", "", f"**{decision['outcome']}**: {decision['reason']}"]
        lines += gate_comparison(decision)
    return "\n".join(lines) + "\n"


def gate_comparison(decision: dict[str, Any]) -> list[str]:
    """Markdown lines: the test, its p-value and both models' score per fold
    (nothing when the gate compared no scores on the same days)."""
    evaluation = decision.get("evaluation")
    if not evaluation:
        return []
    metric = decision["metric"]
    spread = evaluation["spread"][metric]
    return [
        "",
        f"- test: {decision['test']}, p = {decision['p_value']:.4f} "
        f"(promotes below {1 - decision['confidence']:.3g})",
        f"- evaluation: {evaluation['method']}, {len(evaluation['folds'])} folds, "
        f"{evaluation['rows']} days, both models trained on the same days before each fold",
        "",
        f"| fold | days | challenger {metric} | champion {metric} |",
        "|---|---|---|---|",
        *(
            f"| {i} | {fold['start']} → {fold['end']} ({fold['rows']}) "
            f"| {fold['challenger'][metric]:.4f} | {fold['champion'][metric]:.4f} |"
            for i, fold in enumerate(evaluation["folds"], start=1)
        ),
        f"| mean ± std | | {spread['challenger_mean']:.4f} ± {spread['challenger_std']:.4f} "
        f"| {spread['champion_mean']:.4f} ± {spread['champion_std']:.4f} |",
    ]


@task(name="publish-artifacts")
def publish(name: str, result: TrainingResult) -> None:
    """The run's metrics table, model card and model link, keyed by `name`."""
    create_table_artifact(
        table=[{"metric": k, "value": round(v, 6)} for k, v in result.metrics.items()],
        key=artifact_key(name, "metrics"),
        description=f"Test-set metrics of run {result.run_id}",
    )
    create_markdown_artifact(
        markdown=model_card(name, result),
        key=artifact_key(name, "model-card"),
        description=f"Model card of {name} v{result.version}",
    )
    link = _model_link(result.run_id)
    if link:
        version = result.version
        create_link_artifact(
            link=link,
            link_text=f"models:/{name}/{version}" if version is not None else result.model_uri,
            key=artifact_key(name, "model-version"),
            description="Where the model's MLmodel files are",
        )


def _model_link(run_id: str) -> str | None:
    try:
        client = tracking.Client()
        if client.artifacts_are_local(run_id):
            return client.artifact_path(run_id, "model").as_uri()
        return client.artifact_location(run_id, "model")
    except (TrackingError, ValueError):
        return None


def leaderboard_rows(name: str, metric: str, size: int = LEADERBOARD_SIZE) -> list[dict[str, Any]]:
    """The registered versions of `name`, best `metric` first."""
    client = tracking.Client()
    try:
        versions = client.search_model_versions(name=name)
    except NotFound:
        return []
    rows = []
    for mv in versions[: size * 3]:  # newest first; older ones rarely lead
        score = version_score(client, mv.run_id, metric)
        rows.append(
            {
                "version": mv.version,
                metric: None if score is None else round(score, 6),
                "aliases": ", ".join(sorted(mv.aliases)),
                "gate": mv.tags.get("mlcadence.gate.decision", ""),
                "run_id": mv.run_id or "",
            }
        )
    rows.sort(key=lambda r: (r[metric] is not None, r[metric] or 0.0, r["version"]), reverse=True)
    return rows[:size]


@task(name="publish-leaderboard")
def publish_leaderboard(name: str, metric: str) -> list[dict[str, Any]]:
    rows = leaderboard_rows(name, metric)
    if rows:
        create_table_artifact(
            table=rows,
            key=artifact_key(name, "leaderboard"),
            description=f"Versions of {name} ranked by {metric}",
        )
    return rows


@task(name="publish-table")
def publish_table(rows: list[dict[str, Any]], key: str, description: str) -> None:
    """A keyed table artifact (a task, so async flows can call it too)."""
    create_table_artifact(table=rows, key=key, description=description)
