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
    """Run an entry point in a tracking run; a failed entry point's exit status
    is this command's."""
    options = dict(locals())  # each option is the runner's keyword of that name
    from mlcadence.projects.runner import parse_parameter_args, run

    parameters = parse_parameter_args(options.pop("param"))
    result = run(options.pop("uri"), parameters=parameters, **options)
    typer.echo(f"=== Run {result.run_id} {result.status} ===")


def register(app: typer.Typer) -> None:
    """Mount this area's commands on the top-level app."""
    app.add_typer(project_app, name="project")
