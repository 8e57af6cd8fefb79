"""`mlcadence runs|experiments|models|store ...`: look at and tidy the tracking store.

Only parsing and printing live here; the work is done by `tracking`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import typer

from mlcadence.tracking.client import Client
from mlcadence.tracking.errors import InvalidInput, TrackingError
from mlcadence.tracking.tracking_uri import require_existing_store

runs_app = typer.Typer(no_args_is_help=True, help="Inspect and tidy runs.")
experiments_app = typer.Typer(no_args_is_help=True, help="Inspect experiments.")
models_app = typer.Typer(no_args_is_help=True, help="Inspect and promote registered models.")
store_app = typer.Typer(no_args_is_help=True, help="Check a tracking store for crash damage.")

TrackingUriOpt = typer.Option(
    None, "--tracking-uri", "-t", help="Store to use (default: MLCADENCE_TRACKING_URI or ./mlruns)."
)
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")


def register(app: typer.Typer) -> None:
    """Mount this area's commands on the top-level app."""
    import mlcadence.cli.promotion_cmds  # noqa: F401 - its commands live on models_app

    app.add_typer(runs_app, name="runs")
    app.add_typer(experiments_app, name="experiments")
    app.add_typer(models_app, name="models")
    app.add_typer(store_app, name="store")


def _reader(tracking_uri: str | None) -> Client:
    """A Client on an existing store: these commands read (or change what is
    there), so a wrong folder is an error that says where we looked, not a new
    empty store."""
    return Client(require_existing_store(tracking_uri))


# -- formatting ------------------------------------------------------------------
def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


def _run_dict(run) -> dict:
    info = asdict(run.info)
    info["status"] = run.info.status.name
    return {"info": info, "data": asdict(run.data)}


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """'90', '90s', '15m', '2h', '1d' -> seconds."""
    m = _DURATION.match(text or "")
    if not m:
        raise InvalidInput(f"Invalid duration '{text}': use a number with s, m, h or d, e.g. 2h.")
    return float(m[1]) * _UNIT_SECONDS[m[2]]


# -- runs ------------------------------------------------------------------------
def _experiment_ids(client: Client, names_or_ids: list[str] | None) -> list[str]:
    if not names_or_ids:
        return [e.experiment_id for e in client.search_experiments()]
    ids = []
    for item in names_or_ids:
        experiment = client.get_experiment_by_name(item)
        if experiment is None:
            experiment = client.get_experiment(item)  # NotFound says what to do
        ids.append(experiment.experiment_id)
    return ids


@runs_app.command("list")
def runs_list(
    experiment: list[str] = typer.Option(
        None, "--experiment", "-e", help="Experiment name or id (repeatable; default: all)."
    ),
    filter_string: str = typer.Option("", "--filter", "-f", help='e.g. "metrics.acc > 0.8"'),
    order_by: list[str] = typer.Option(None, "--order-by", "-o", help='e.g. "metrics.acc DESC"'),
    max_results: int = typer.Option(100, "--max", "-n", help="At most this many runs."),
    tracking_uri: str = TrackingUriOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List runs, newest first unless --order-by says otherwise."""
    client = _reader(tracking_uri)
    ids = _experiment_ids(client, experiment)
    runs = (
        client.search_runs(ids, filter_string, max_results=max_results, order_by=order_by)
        if ids
        else []
    )
    if as_json:
        _json([_run_dict(r) for r in runs])
        return
    names = {e.experiment_id: e.name for e in client.search_experiments(view_type="all")}
    rows = []
    for r in runs:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.data.metrics.items())[:4])
        rows.append(
            [
                r.info.run_id,
                names.get(r.info.experiment_id, r.info.experiment_id),
                r.info.run_name,
                r.info.status.name,
                _when(r.info.start_time),
                metrics,
            ]
        )
    _table(["RUN_ID", "EXPERIMENT", "NAME", "STATUS", "STARTED (UTC)", "METRICS"], rows)


@runs_app.command("show")
def runs_show(run_id: str, tracking_uri: str = TrackingUriOpt, as_json: bool = JsonOpt) -> None:
    """Show one run: info, params, latest metrics and tags."""
    client = _reader(tracking_uri)
    run = client.get_run(run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    if as_json:
        _json(_run_dict(run))
        return
    info = run.info
    for label, value in (
        ("run_id", info.run_id),
        ("name", info.run_name),
        ("experiment", f"{experiment.name} (id {info.experiment_id})"),
        ("status", info.status.name),
        ("user", info.user_id),
        ("started", _when(info.start_time)),
        ("ended", _when(info.end_time)),
        ("lifecycle", info.lifecycle_stage),
        ("artifacts", info.artifact_uri),
    ):
        typer.echo(f"{label:<11} {value}")
    for title, mapping in (
        ("params", run.data.params),
        ("metrics", run.data.metrics),
        ("tags", run.data.tags),
    ):
        typer.echo(f"{title}:")
        for key in sorted(mapping):
            typer.echo(f"  {key} = {mapping[key]}")


@runs_app.command("reap")
def runs_reap(
    older_than: str = typer.Option(
        None,
        "--older-than",
        help="Also reap RUNNING runs with no checkable owner that started this long ago (e.g. 2h).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be reaped."),
    tracking_uri: str = TrackingUriOpt,
) -> None:
    """Mark RUNNING runs whose owning process is gone as FAILED."""
    from mlcadence.tracking.reaper import reap_stale_runs

    seconds = parse_duration(older_than) if older_than else None
    decisions = reap_stale_runs(_reader(tracking_uri), seconds, dry_run=dry_run)
    verb = "would reap" if dry_run else "reaped"
    rows = [
        [d.run.info.run_id, d.run.info.run_name, d.owner, verb if d.reap else "kept"]
        for d in decisions
    ]
    if rows:
        _table(["RUN_ID", "NAME", "OWNER", "ACTION"], rows)
    typer.echo(
        f"{sum(d.reap for d in decisions)} run(s) {verb}, "
        f"{sum(not d.reap for d in decisions)} RUNNING run(s) kept."
    )


# -- experiments ---------------------------------------------------------------------
@experiments_app.command("list")
def experiments_list(
    all_: bool = typer.Option(False, "--all", help="Include deleted experiments."),
    tracking_uri: str = TrackingUriOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List experiments."""
    experiments = _reader(tracking_uri).search_experiments(view_type="all" if all_ else "active")
    if as_json:
        _json([asdict(e) for e in experiments])
        return
    _table(
        ["ID", "NAME", "LIFECYCLE", "ARTIFACT_LOCATION"],
        [[e.experiment_id, e.name, e.lifecycle_stage, e.artifact_location] for e in experiments],
    )


# -- models ----------------------------------------------------------------------------
@models_app.command("list")
def models_list(tracking_uri: str = TrackingUriOpt, as_json: bool = JsonOpt) -> None:
    """List registered models with their newest version and aliases."""
    client = _reader(tracking_uri)
    models = client.search_registered_models()
    if as_json:
        _json([asdict(m) for m in models])
        return
    rows = []
    for m in models:
        versions = client.search_model_versions(name=m.name)
        newest = versions[0].version if versions else "-"
        aliases = ", ".join(f"{a}->v{v}" for a, v in sorted(m.aliases.items()))
        rows.append([m.name, newest, aliases or "-", m.description or ""])
    _table(["NAME", "NEWEST", "ALIASES", "DESCRIPTION"], rows)


@models_app.command("show")
def models_show(name: str, tracking_uri: str = TrackingUriOpt, as_json: bool = JsonOpt) -> None:
    """Show a registered model and its versions."""
    client = _reader(tracking_uri)
    model = client.get_registered_model(name)
    versions = client.search_model_versions(name=name)
    if as_json:
        _json({"model": asdict(model), "versions": [asdict(v) for v in versions]})
        return
    typer.echo(f"name        {model.name}")
    typer.echo(f"description {model.description or ''}")
    typer.echo(f"tags        {model.tags}")
    _table(
        ["VERSION", "STAGE", "ALIASES", "WINDOW", "FEATURES", "RUN_ID", "CREATED (UTC)", "SOURCE"],
        [
            [
                v.version,
                v.current_stage,
                ", ".join(sorted(v.aliases)) or "-",
                _run_param(client, v.run_id, "window"),
                _feature_count(name, v.version),
                v.run_id or "-",
                _when(v.creation_timestamp),
                v.source,
            ]
            for v in versions
        ],
    )
    _gate_decisions(versions)


def _gate_decisions(versions) -> None:
    """Each gated version's decision: outcome and reason, and when both models
    were scored on the same days, the test, its p-value and the fold scores."""
    from mlcadence.pipeline.promotion import GATE_TAG_PREFIX as PREFIX

    gated = [v for v in versions if PREFIX + "decision" in v.tags]
    if not gated:
        return
    typer.echo("")
    typer.echo("gate decisions")
    for v in gated:
        tag = {k[len(PREFIX) :]: value for k, value in v.tags.items() if k.startswith(PREFIX)}
        typer.echo(f"  v{v.version} {tag['decision']}: {tag.get('reason', '')}")
        if tag.get("test"):
            typer.echo(
                f"      {tag['test']} p={float(tag['p_value']):.4f} on {tag.get('evaluation', '')}"
            )
            for side in ("challenger", "champion"):
                typer.echo(
                    f"      {side:<10} {tag.get(side + '_mean_std', '')}  "
                    f"folds {tag.get(side + '_folds', '')}"
                )


def _run_param(client: Client, run_id: str | None, key: str) -> str:
    """A param of the version's training run; "-" for a version without one
    (registered by hand, or its run deleted)."""
    try:
        return client.get_run(run_id).data.params.get(key, "-") if run_id else "-"
    except TrackingError:
        return "-"


def _feature_count(name: str, version) -> str:
    """How many features a row has, from the version's signature; "-" when
    the model has none (or its files cannot be read)."""
    from mlcadence.tracking.models.mlmodel import read_mlmodel, signature_of
    from mlcadence.tracking.uris import resolve_model_uri

    try:
        doc = read_mlmodel(Path(resolve_model_uri(f"models:/{name}/{version}").local_path))
        signature = signature_of(doc)
    except TrackingError:
        return "-"
    width = signature.inputs.width if signature is not None and signature.inputs else None
    return "-" if width is None else str(width)


# -- store -------------------------------------------------------------------------------
@store_app.command("check")
def store_check(
    repair: bool = typer.Option(
        False,
        "--repair",
        help="Move half-written entries and orphans to <store>/.mlc-repaired.trash/ (file store).",
    ),
    tracking_uri: str = TrackingUriOpt,
) -> None:
    """Verify every experiment, run, registered model, model version and logged
    model manifest; list each problem as `what: where: why`. Exits 1 while
    problems remain. Run it while nothing else writes to the store."""
    from mlcadence.tracking import store_check as checker

    client = _reader(tracking_uri)
    result = checker.check_store(client)
    for problem in result.problems:
        typer.echo(problem.line())
    if not result.problems:
        typer.echo(f"store {result.store}: no problems found")
        return
    movable = sum(p.repairable for p in result.problems)
    typer.echo(
        f"store {result.store}: {len(result.problems)} problem(s), "
        f"{movable} can be moved away with --repair"
    )
    remaining = len(result.problems)
    if repair:
        moved = checker.repair(result)
        for problem, target in moved:
            typer.echo(f"moved: {problem.where} -> {target}")
        remaining -= len(moved)
        if not moved:
            why = (
                "none of the problems is a half-written entry or an orphan"
                if result.can_half_write
                else "this store writes each entry in one transaction, so nothing is half-written"
            )
            typer.echo(f"nothing to repair: {why}; fix the problems above by hand")
        typer.echo(f"repaired {len(moved)} problem(s); {remaining} left to fix by hand")
    if remaining:
        raise typer.Exit(code=1)
