"""Thin Prefect tasks over `serving.deploy`: resolve, find the environment,
deploy, record."""

from __future__ import annotations

from prefect import task
from prefect.logging import get_run_logger

from mlcadence.serving import deploy as deploying


@task(name="resolve-model-version")
def resolve_model(model_uri: str) -> str:
    """The registry version the URI points at now (what /health must report)."""
    version = deploying.resolve_version(model_uri)
    get_run_logger().info("%s is version %s", model_uri, version)
    return version


@task(name="serving-environment")
def serving_environment(model_uri: str, project: str | None) -> str | None:
    """The project's Docker environment to serve in (built when missing), or
    None for the slim image."""
    from mlcadence import tracking
    from mlcadence.pipeline.serving_environment import serving_environment as find

    logger = get_run_logger()
    image = find(tracking.Client(), model_uri, project, output=lambda text: None)
    logger.info(
        "serving %s in %s", model_uri, f"the project's environment {image}" if image else "slim"
    )
    return image


@task(name="start-deployment")
def start_deployment(
    target: str, model_uri: str, name: str, version: str, port: int, options: dict | None = None
) -> dict:
    """Start the server, wait healthy, retire the previous one. Not retried:
    a failed health check already left the old deployment serving."""
    record = deploying.get_target(target).deploy(model_uri, name, version, port, **(options or {}))
    get_run_logger().info("%s v%s serving at %s (%s)", name, version, record.endpoint, target)
    return record.to_dict()


@task(name="record-deployment", retries=2, retry_delay_seconds=1)
def record_deployment(record: dict) -> None:
    deploying.record_deployment(deploying.DeploymentRecord.from_dict(record))
