"""`mlcadence serve | predict | deploy | deployments`: parse, call `serving`, print."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

deployments_app = typer.Typer(help="Running deployments: list, stop.", no_args_is_help=True)


def serve(
    model_uri: str = typer.Option(
        ..., "--model-uri", "-m", help="runs:/…, models:/name/3, models:/name@alias or a path"
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(5000, "--port", "-p"),
    workers: int = typer.Option(1, "--workers", "-w", help="uvicorn worker processes"),
    batch_max_size: int = typer.Option(
        None, help="Most requests coalesced into one predict (1 = no batching)"
    ),
    batch_max_wait_ms: float = typer.Option(
        None, help="Longest wait for more requests to join a batch"
    ),
    timeout: float = typer.Option(
        None, "--timeout", "-t", help="Seconds before a request gets 504"
    ),
    max_body_bytes: int = typer.Option(None, help="Largest request body (413 above)"),
    reload_interval: float = typer.Option(
        None, help="Seconds between registry polls for an alias (0 = off)"
    ),
    access_log: bool = typer.Option(False, help="Log every request (slower)"),
) -> None:
    """Serve a model over HTTP in MLflow's scoring protocol (POST /invocations)."""
    from mlcadence.serving.config import ServerConfig
    from mlcadence.serving.server import serve as run_server

    config = ServerConfig.from_env(
        model_uri=model_uri,
        host=host,
        port=port,
        workers=workers,
        batch_max_size=batch_max_size,
        batch_max_wait_ms=batch_max_wait_ms,
        timeout=timeout,
        max_body_bytes=max_body_bytes,
        reload_interval=reload_interval,
        access_log=access_log or None,
    )
    run_server(config)


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
) -> None:
    """Score a file with the same parsing and checks as POST /invocations."""
    from mlcadence.serving.predict import score_file

    result = score_file(model_uri, input_path, output_path, content_type)
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
