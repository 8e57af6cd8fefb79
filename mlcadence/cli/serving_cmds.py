"""`mlcadence serve | predict | deploy | deployments`: parse, call `serving`, print."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from mlcadence.cli.tracking_cmds import TrackingUriOpt, _table
from mlcadence.settings import ServingSettings

# Model URIs resolved through the tracking store (a path is read directly).
REGISTRY_URI_PREFIXES = ("models:/", "runs:/")

deployments_app = typer.Typer(help="Running deployments: list, stop.", no_args_is_help=True)


def _setting(name: str, *flags: str):
    """A `serve` option for the ServingSettings field `name`: its help and
    default come from the field; not given, the environment decides."""
    from mlcadence.serving.settings import env_name, option_name

    field = ServingSettings.model_fields[name]
    default = field.get_default(call_default_factory=True)
    flag = option_name(name)
    if field.annotation is bool:
        flag = f"{flag}/--no-{flag[2:]}"
    return typer.Option(
        None,
        flag,
        *flags,
        help=f"{field.description} (default: {default}; env {env_name(name)})",
        show_default=False,
    )


def serve(
    model_uri: str = typer.Option(
        ..., "--model-uri", "-m", help=ServingSettings.model_fields["model_uri"].description
    ),
    host: str = _setting("host"),
    port: int = _setting("port", "-p"),
    workers: int = _setting("workers", "-w"),
    batch_max_size: int = _setting("batch_max_size"),
    batch_max_wait_ms: float = _setting("batch_max_wait_ms"),
    timeout: float = _setting("timeout", "-t"),
    max_body_bytes: int = _setting("max_body_bytes"),
    max_rows: int = _setting("max_rows"),
    max_decoded_bytes: int = _setting("max_decoded_bytes"),
    max_header_bytes: int = _setting("max_header_bytes"),
    header_timeout: float = _setting("header_timeout"),
    keep_alive_timeout: float = _setting("keep_alive_timeout"),
    max_connections: int = _setting("max_connections"),
    reload_interval: float = _setting("reload_interval"),
    access_log: bool = _setting("access_log"),
    allow_unverified: bool = _setting("allow_unverified"),
    open_info_endpoints: bool = _setting("open_info_endpoints"),
) -> None:
    """Serve a model over HTTP in MLflow's scoring protocol (POST /invocations)."""
    given = dict(locals())  # each option is the ServingSettings field of its name
    from mlcadence.serving.server import serve as run_server
    from mlcadence.serving.settings import read_settings

    _require_store_for(model_uri)

    run_server(read_settings(**given))


def _require_store_for(model_uri: str) -> None:
    """A registry or run URI reads the tracking store: with none where we
    look, say so (and where) instead of creating an empty one."""
    if model_uri.startswith(REGISTRY_URI_PREFIXES):
        from mlcadence.tracking.tracking_uri import require_existing_store

        require_existing_store(option=None)


def predict(
    model_uri: str = typer.Option(..., "--model-uri", "-m"),
    input_path: Path = typer.Option(
        ...,
        "--input-path",
        "-i",
        exists=True,
        dir_okay=False,
        help="CSV, JSON (any /invocations shape) or Parquet",
    ),
    output_path: Path = typer.Option(None, "--output-path", "-o", help="Default: print to stdout"),
    content_type: str = typer.Option(None, help="Override the format guessed from the suffix"),
    allow_unverified: bool = _setting("allow_unverified"),
) -> None:
    """Score a file with the same parsing and checks as POST /invocations."""
    from mlcadence.serving.predict import score_file
    from mlcadence.serving.settings import read_settings

    _require_store_for(model_uri)

    settings = read_settings(allow_unverified=allow_unverified)
    result = score_file(
        model_uri,
        input_path,
        output_path,
        content_type,
        fast_path=settings.fast_path,
        allow_unverified=settings.allow_unverified,
    )
    if output_path is None:
        sys.stdout.write(result.decode() + "\n")
    else:
        typer.echo(f"wrote {output_path}")


def deploy(
    model_name: str = typer.Argument(None, help="Registered model name"),
    name: str = typer.Option(
        None, "--name", "-n", help="Deployment name (default: the model name)"
    ),
    model: str = typer.Option(None, "--model", help="Registered model name (same as the argument)"),
    alias: str = typer.Option("champion", help="Alias to deploy and follow"),
    version: str = typer.Option(None, help="Pin a version instead of following the alias"),
    target: str = typer.Option("local", help="local | docker"),
    port: int = typer.Option(5000, "--port", "-p"),
    host: str = typer.Option("127.0.0.1"),
    workers: int = typer.Option(1),
    project: Path = typer.Option(
        None,
        "--project",
        file_okay=False,
        exists=True,
        help="MLproject folder whose docker_env the docker target serves in (default: the "
        "project the model's run came from, if any)",
    ),
    tracking_uri: str = TrackingUriOpt,
) -> None:
    """Deploy a registered model: start, health-check, then replace the old one."""
    from mlcadence.serving.deploy import deploy_model, model_uri_for

    registered = model_name or model or name
    if not registered:
        raise typer.BadParameter("give the registered model name (argument or --model)")
    if project is not None and target != "docker":
        from mlcadence.serving.errors import InvalidSetting

        raise InvalidSetting(
            "--project gives the Docker environment to serve in: use it with --target docker."
        )
    if tracking_uri:
        from mlcadence import tracking

        tracking.set_tracking_uri(tracking_uri)
    options: dict = {"host": host, "workers": workers} if target == "local" else {}
    if target == "docker":
        from mlcadence.pipeline.serving_environment import serving_environment
        from mlcadence.tracking import Client

        options["base_image"] = serving_environment(
            Client(), model_uri_for(registered, alias, version), project, output=typer.echo
        )
    record = deploy_model(
        registered,
        alias=alias,
        version=version,
        target=target,
        port=port,
        name=name or registered,
        **options,
    )
    typer.echo(f"{record.name}: {record.model_uri} (version {record.version}) at {record.endpoint}")


def _store(tracking_uri: str | None, all_stores: bool) -> str | None:
    from mlcadence.serving.deploy import current_store

    return None if all_stores else current_store(tracking_uri)


AllStoresOpt = typer.Option(
    False, "--all-stores", help="Every tracking store's deployments, not only this store's."
)


@deployments_app.command("list")
def list_deployments(
    target: str = typer.Option(None, help="Only this target (local | docker; default: all)"),
    all_stores: bool = AllStoresOpt,
    tracking_uri: str = TrackingUriOpt,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """This store's deployments on every target: version, endpoint and health (/health)."""
    from mlcadence.serving.deploy import DEPLOY_TARGETS, get_target, list_deployments, probe_health

    if target is not None:
        get_target(target)  # an unknown target names the choices
    targets = (target,) if target else tuple(DEPLOY_TARGETS)
    records, unavailable = list_deployments(_store(tracking_uri, all_stores), targets)
    health = {id(r): probe_health(r) if r.status == "running" else r.status for r in records}
    if as_json:
        rows = [{**r.to_dict(), "health": health[id(r)]} for r in records]
        typer.echo(json.dumps(rows, indent=2))
        return
    for name, why in unavailable.items():
        typer.echo(f"({name}: not listed: {why})")
    if not records:
        typer.echo("no deployments" + ("" if all_stores else " of this tracking store"))
        return
    headers = ["TARGET", "NAME", "MODEL", "VERSION", "ENDPOINT", "HEALTH", "SINCE"]
    rows = [
        [r.target, r.name, r.model_uri, r.version or "-", r.endpoint, health[id(r)], r.started_at]
        + ([r.store or "-"] if all_stores else [])
        for r in records
    ]
    _table(headers + (["STORE"] if all_stores else []), rows)


@deployments_app.command("stop")
def stop_deployment(
    name_or_port: str = typer.Argument(..., help="Deployment name or port"),
    target: str = typer.Option("local"),
    all_stores: bool = typer.Option(
        False, "--all-stores", help="Also stop another tracking store's deployment."
    ),
    tracking_uri: str = TrackingUriOpt,
) -> None:
    """Stop this store's deployment (in-flight requests finish first) and tag its
    model version `stopped_at`."""
    from mlcadence.serving.deploy import current_store, get_target, record_stop
    from mlcadence.tracking import Client

    record = get_target(target).stop(name_or_port, _store(tracking_uri, all_stores))
    if record.store == current_store(tracking_uri):  # another store's versions are not ours
        record_stop(record, Client(tracking_uri))
    typer.echo(f"stopped {record.name} (port {record.port})")


def register(app: typer.Typer) -> None:
    """Mount this area's commands on the top-level app."""
    app.command("serve")(serve)
    app.command("predict")(predict)
    app.command("deploy")(deploy)
    app.add_typer(deployments_app, name="deployments")
