"""The `project` flow: run one MLproject entry point (the `mlflow run`
equivalent) as a Prefect flow run. All the work is in `projects.runner`; the
flow adds Prefect's run record and sends the entry point's output to the flow
run's log, line by line."""

from __future__ import annotations

from typing import Literal

from prefect import flow, get_run_logger

from mlcadence.projects import runner
from mlcadence.projects.environments import ENV_MANAGERS
from mlcadence.projects.spec import DEFAULT_ENTRY_POINT

EnvManagerName = Literal[tuple(ENV_MANAGERS)]  # type: ignore[valid-type]


@flow(name="project")
def project(
    uri: str,
    entry_point: str = DEFAULT_ENTRY_POINT,
    parameters: dict[str, str] | None = None,
    env_manager: EnvManagerName | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    build_image: bool = False,
    version: str | None = None,
) -> dict:
    logger = get_run_logger()
    result = runner.run(
        uri,
        entry_point=entry_point,
        parameters=parameters or {},
        env_manager=env_manager,
        experiment=experiment,
        run_name=run_name,
        build_image=build_image,
        version=version,
        output=lambda text: logger.info(text.rstrip("\n")) if text.strip() else None,
    )
    return {
        "run_id": result.run_id,
        "experiment_id": result.experiment_id,
        "status": result.status,
        "command": result.command,
        "env_manager": result.env_manager,
    }
