"""`mlcadence serve | predict | deploy | deployments`: parse, call `serving`, print."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

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
) -> None:
    """Deploy a registered model: start, health-check, then replace the old one."""
    from mlcadence.serving.deploy import deploy_model

    registered = model_name or model or name
    if not registered:
        raise typer.BadParameter("give the registered model name (argument or --model)")
    options = {"host": host, "workers": workers} if target == "local" else {}
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


@deployments_app.command("list")
def list_deployments(
    target: str = typer.Option("local"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Deployments and whether their process/container is running."""
    from mlcadence.serving.deploy import get_target

    records = get_target(target).list()
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in records], indent=2))
        return
    if not records:
        typer.echo("no deployments")
    for r in records:
        typer.echo(
            f"{r.name:<20} {r.status:<8} v{r.version or '-':<5} {r.endpoint:<40} "
            f"{r.model_uri}  (since {r.started_at})"
        )


@deployments_app.command("stop")
def stop_deployment(
    name_or_port: str = typer.Argument(..., help="Deployment name or port"),
    target: str = typer.Option("local"),
) -> None:
    """Stop a deployment (in-flight requests finish first)."""
    from mlcadence.serving.deploy import get_target

    record = get_target(target).stop(name_or_port)
    typer.echo(f"stopped {record.name} (port {record.port})")


def register(app: typer.Typer) -> None:
    """Mount this area's commands on the top-level app."""
    app.command("serve")(serve)
    app.command("predict")(predict)
    app.command("deploy")(deploy)
    app.add_typer(deployments_app, name="deployments")
