"""Running the server: settings in, uvicorn out.

`serve` resolves the settings once (defaults, relative paths, the tokens)
and hands them to every worker through the MLCADENCE_SERVER_* variables;
each worker builds its app with `app_from_environment`.
"""

from __future__ import annotations

import os

from mlcadence.settings import ServerSettings, get_settings
from mlcadence.tracking.conventions import has_scheme
from mlcadence.tracking.server.app import create_app
from mlcadence.tracking.server.auth import load_auth


def resolve(settings: ServerSettings) -> ServerSettings:
    """Defaults filled in and local paths made absolute, so every worker
    (and a later restart from another directory) opens the same store."""
    uri = settings.backend_store_uri or get_settings().tracking_uri
    if not has_scheme(uri):
        uri = os.path.abspath(os.path.expanduser(uri))
    destination = os.path.abspath(os.path.expanduser(settings.artifacts_destination))
    # Prefect's own variable, when the server's is unset: the UI the flows report to.
    prefect_ui_url = settings.prefect_ui_url or os.environ.get("PREFECT_UI_URL") or None
    return settings.model_copy(
        update={
            "backend_store_uri": uri,
            "artifacts_destination": destination,
            "prefect_ui_url": prefect_ui_url,
        }
    )


def build_app(settings: ServerSettings):
    return create_app(
        settings.backend_store_uri,
        settings.artifacts_destination,
        load_auth(settings.tokens_file, settings.tokens),
        fsync=get_settings().file_fsync,
        prefect_ui_url=settings.prefect_ui_url,
    )


def app_from_environment():
    """uvicorn factory: one worker's app from MLCADENCE_SERVER_* variables."""
    return build_app(ServerSettings())


def serve(settings: ServerSettings) -> None:
    import uvicorn

    settings = resolve(settings)
    load_auth(settings.tokens_file, settings.tokens)  # a bad tokens file fails here, once
    os.environ.update(settings.as_environment())
    common = {
        "host": settings.host,
        "port": settings.port,
        "access_log": settings.access_log,
        "log_level": settings.log_level,
        "timeout_keep_alive": 30,
    }
    if settings.workers > 1:
        uvicorn.run(
            "mlcadence.tracking.server.main:app_from_environment",
            factory=True,
            workers=settings.workers,
            **common,
        )
    else:
        # Built here rather than in the worker, so a store that cannot be
        # opened fails the command with its own message.
        uvicorn.run(build_app(settings), **common)
