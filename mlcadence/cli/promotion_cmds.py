"""`mlcadence models promote | alias | rollback`: move an alias, one way.

Every move of `champion` goes through `mlcadence.pipeline.promotion` (the
gate's own path): the reason is recorded on the version, the move in the
alias's history, and, with a Prefect API configured, the
`mlcadence.model.promoted` event is emitted, so the `deploy` deployment's
trigger redeploys whichever way the champion moved.
"""

from __future__ import annotations

import typer

from mlcadence.cli.tracking_cmds import TrackingUriOpt, _reader, models_app
from mlcadence.pipeline import promotion
from mlcadence.tracking.client import Client
from mlcadence.tracking.errors import InvalidInput


def _announcer(alias: str):
    """The Prefect event a new champion deserves, when a Prefect API is
    configured to hear it; other aliases, and a terminal with no Prefect
    server, get no event."""
    if alias != promotion.CHAMPION:
        return None
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        return None
    from mlcadence.tasks.registry import announce_promotion

    return announce_promotion


def _moved(name: str, moved: promotion.Promotion, announced: bool) -> None:
    """Say what moved and what redeploys it."""
    was = moved.previous_version
    was_text = f" (was version {was})" if was not in (None, moved.version) else ""
    typer.echo(f"{name}@{moved.alias} -> version {moved.version}{was_text}")
    if moved.alias != promotion.CHAMPION:
        return
    if announced:
        typer.echo(
            f"announced to Prefect: the deploy deployment's trigger redeploys {moved.model_uri}"
        )
    else:
        typer.echo(
            f"no Prefect API configured (PREFECT_API_URL), so no deploy was triggered: a local "
            f"deployment of {moved.model_uri} hot-reloads by itself; redeploy a docker one with "
            f"`mlcadence deploy {name} --target docker`"
        )


def _promote(client: Client, name: str, version: int, alias: str, reason: str) -> None:
    announce = _announcer(alias)
    moved = promotion.promote(
        client, name, version, reason=reason, alias=alias, on_promoted=announce
    )
    _moved(name, moved, announce is not None)


@models_app.command("promote")
def models_promote(
    name: str,
    version: int,
    alias: str = typer.Option("champion", "--alias", help="Alias to move to VERSION."),
    stage: str = typer.Option(
        None, "--stage", help="Also move VERSION to this legacy stage, archiving the others in it."
    ),
    tracking_uri: str = TrackingUriOpt,
) -> None:
    """Make VERSION the one its alias (default: champion) resolves to, and redeploy it."""
    client = _reader(tracking_uri)
    _promote(
        client, name, version, alias, f"promoted to {alias} by hand (mlcadence models promote)"
    )
    if stage:
        client.transition_model_version_stage(name, version, stage, archive_existing_versions=True)


@models_app.command("alias")
def models_alias(
    name: str,
    alias: str,
    version: int = typer.Argument(None, help="Version to point the alias at."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
    tracking_uri: str = TrackingUriOpt,
) -> None:
    """Point ALIAS of model NAME at VERSION (or remove it with --delete).
    Moving `champion` is a promotion, as with `models promote`."""
    client = _reader(tracking_uri)
    if delete:
        client.delete_registered_model_alias(name, alias)
        typer.echo(f"{name}@{alias} removed")
        return
    if version is None:
        raise InvalidInput("Give the VERSION to point the alias at, or --delete to remove it.")
    if alias == promotion.CHAMPION:
        _promote(client, name, version, alias, "champion moved by hand (mlcadence models alias)")
        return
    client.set_registered_model_alias(name, alias, version)
    typer.echo(f"{name}@{alias} -> version {version}")


@models_app.command("rollback")
def models_rollback(
    name: str,
    alias: str = typer.Option("champion", "--alias", help="Alias to move back."),
    tracking_uri: str = TrackingUriOpt,
) -> None:
    """Move the champion back to the version that held it before, and redeploy it.
    Run it again to go further back."""
    announce = _announcer(alias)
    moved = promotion.rollback(_reader(tracking_uri), name, alias=alias, on_promoted=announce)
    _moved(name, moved, announce is not None)
