"""`mlcadence project run`: run an MLproject entry point (like `mlflow run`)."""

from __future__ import annotations

import typer

project_app = typer.Typer(no_args_is_help=True, help="Run MLproject projects.")


@project_app.command("run")
def run_cmd(
    uri: str = typer.Argument(..., help="Project directory, dir#subdir, or git URI."),
    entry_point: str = typer.Option(
        "main", "--entry-point", "-e", help="Entry point name or script."
    ),
    param: list[str] = typer.Option([], "--param", "-P", help="Parameter as name=value (repeat)."),
    env_manager: str | None = typer.Option(
        None, "--env-manager", help="local | virtualenv | docker | conda (default: from MLproject)."
    ),
    build_image: bool = typer.Option(
        False, "--build-image", help="Rebuild the project's Docker image."
    ),
    experiment: str | None = typer.Option(
        None, "--experiment", "--experiment-name", help="Experiment name or id."
    ),
    run_name: str | None = typer.Option(None, "--run-name", help="Name of the tracking run."),
    version: str | None = typer.Option(None, "--version", "-v", help="Git commit, branch or tag."),
) -> None:
    """Run an entry point in a tracking run; exit code 1 when it fails."""
    from mlcadence.projects.runner import parse_parameter_args, run

    result = run(
        uri,
        entry_point=entry_point,
        parameters=parse_parameter_args(param),
        env_manager=env_manager,
        experiment=experiment,
        run_name=run_name,
        build_image=build_image,
        version=version,
    )
    typer.echo(f"=== Run {result.run_id} {result.status} ===")


def register(app: typer.Typer) -> None:
    """Mount this area's commands on the top-level app."""
    app.add_typer(project_app, name="project")
