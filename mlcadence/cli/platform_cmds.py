"""`mlcadence up | down | status`: the local platform in the background.

The work is done by `platform`; this module parses and prints.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from mlcadence.cli import platform


def register(app: typer.Typer) -> None:
    """Mount this area's commands on the top-level app."""
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)


def state_dir() -> Path:
    from mlcadence.settings import get_settings

    return Path(get_settings().state_dir)


def _port_option(name: str):
    svc = platform.service(name)
    return typer.Option(svc.default_port, svc.port_option, help=f"Port of the {svc.title}.")


def up(
    prefect_port: int = _port_option("prefect"),
    tracking_port: int = _port_option("tracking"),
    backend_store_uri: str = typer.Option(
        None,
        "--backend-store-uri",
        help="Store the platform's runs go to (default: MLCADENCE_TRACKING_URI or ./mlruns).",
    ),
    artifacts_destination: str = typer.Option(
        "mlartifacts",
        "--artifacts-destination",
        help="Directory the tracking server keeps uploaded artifacts in.",
    ),
    timeout: float = typer.Option(
        platform.HEALTH_TIMEOUT, "--timeout", help="Seconds each service may take to be healthy."
    ),
) -> None:
    """Start the Prefect server (UI), the tracking server, the deployments of
    prefect.yaml and a warm runner for flow commands in the background; CLI
    commands then use them."""
    from mlcadence.tracking.tracking_uri import get_tracking_uri, normalize_uri

    store = normalize_uri(backend_store_uri) if backend_store_uri else get_tracking_uri()
    ports = {"prefect": prefect_port, "tracking": tracking_port}
    artifacts = os.path.abspath(os.path.expanduser(artifacts_destination))
    started = platform.up(state_dir(), ports, store, artifacts, timeout=timeout)
    if all(s.already_running for s in started):
        typer.echo("mlcadence is already up:")
    for item in started:
        svc = platform.service(item.record.name)
        note = "already running" if item.already_running else "started"
        typer.echo(f"  {svc.title:<36} {item.record.url}  (pid {item.record.pid}, {note})")
    store = platform.up_tracking_uri(state_dir())
    typer.echo(f"runs go to {store}; logs in {platform.platform_dir(state_dir())}")
    typer.echo("`mlcadence status` shows them, `mlcadence down` stops them.")


def down() -> None:
    """Stop every service `mlcadence up` (or a flow command) started, then the
    local model servers (deployed on promotion, or by `mlcadence deploy
    --target local`); Docker deployments keep running."""
    stopped = platform.down(state_dir())
    for record in stopped:
        typer.echo(f"stopped {record.name} (pid {record.pid})")
    # After the services: no deploy flow can start another server meanwhile.
    from mlcadence.serving.deploy import get_target

    local = get_target("local")
    servers = [r for r in local.list() if r.status == "running"]
    for deployment in servers:
        local.stop(deployment.name)
        typer.echo(f"stopped deployment {deployment.name} (port {deployment.port})")
    if not stopped and not servers:
        typer.echo("nothing is running")


def status() -> None:
    """Show each service: pid, URL, healthy or not. Exits 1 unless all are healthy."""
    rows = platform.status(state_dir())
    for row in rows:
        if row.record is None:
            typer.echo(f"{row.service.name:<12} stopped")
            continue
        health = "healthy" if row.healthy else "NOT healthy"
        typer.echo(
            f"{row.service.name:<12} {health:<12} pid {row.record.pid:<8} {row.record.url}"
            f"  (log {row.record.log})"
        )
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)
