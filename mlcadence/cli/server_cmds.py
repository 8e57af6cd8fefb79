"""`mlcadence server`: parse, call `tracking.server`, serve."""

from __future__ import annotations

import typer

from mlcadence.settings import ServerSettings


def _setting(name: str, *flags: str):
    """An option for the ServerSettings field `name`; not given, the
    environment (MLCADENCE_SERVER_<NAME>) decides."""
    field = ServerSettings.model_fields[name]
    default = field.get_default(call_default_factory=True)
    flag = "--" + name.replace("_", "-")
    if field.annotation is bool:
        flag = f"{flag}/--no-{flag[2:]}"
    return typer.Option(
        None,
        flag,
        *flags,
        help=f"{field.description} (default: {default}; env MLCADENCE_SERVER_{name.upper()})",
        show_default=False,
    )


def server(
    backend_store_uri: str = _setting("backend_store_uri"),
    artifacts_destination: str = _setting("artifacts_destination"),
    host: str = _setting("host", "-h"),
    port: int = _setting("port", "-p"),
    workers: int = _setting("workers", "-w"),
    tokens_file: str = _setting("tokens_file"),
    access_log: bool = _setting("access_log"),
    log_level: str = _setting("log_level"),
    prefect_ui_url: str = _setting("prefect_ui_url"),
) -> None:
    """Run the tracking server: MLflow's REST API (and proxied artifacts) over
    the store, for `MLFLOW_TRACKING_URI=http://host:port` clients."""
    given = {k: v for k, v in locals().items() if v is not None}
    from mlcadence.tracking.server.main import serve

    serve(ServerSettings(**given))


def register(app: typer.Typer) -> None:
    app.command("server")(server)
