"""The deploy flow: resolve a registered model -> find its environment ->
start its server -> health check -> record the deployment on the model version.

Deploying an alias (the default, `champion`) serves `models:/name@alias`, and
the deployment follows the alias: the alias is resolved when the flow runs (so
a run triggered by a promotion, a manual promotion or a rollback serves the
champion of that moment, never a number that went stale), a local server then
hot-reloads later moves by itself, and a Docker deployment is replaced
blue/green by the deploy run each promotion event starts. Deploying a version
pins it.

On the docker target, a model whose run came from an MLproject (or any model
with `project` given) is served in the project's Docker environment.
"""

from __future__ import annotations

from typing import Annotated, Literal

from prefect import flow
from pydantic import Field

from mlcadence.serving.deploy import model_uri_for
from mlcadence.tasks.deploy import (
    record_deployment,
    resolve_model,
    serving_environment,
    start_deployment,
)

Port = Annotated[int, Field(ge=1, le=65535, description="Port the endpoint listens on")]


@flow(name="deploy", log_prints=True)
def deploy(
    model_name: str | None = None,
    alias: str = "champion",
    version: int | str | None = None,
    target: Literal["local", "docker"] = "local",
    port: Port = 5000,
    model_uri: str | None = None,
    name: str | None = None,
    project: str | None = None,
) -> dict:
    """Deploy `model_name` (at `version`, else at `alias`) to `target` on `port`.

    `model_uri` (any models:/ URI) replaces model_name/alias/version; the
    promotion event passes the alias URI, and `version` (the version promoted)
    is then only informative: the alias is resolved now. `name` names the
    deployment (default: the model name); `project` (an MLproject folder)
    gives the Docker environment to serve in.
    """
    if model_uri is None:
        if not model_name:
            raise ValueError("Give model_name (with alias or version) or model_uri.")
        model_uri = model_uri_for(model_name, alias, version)
    elif not model_name:
        model_name = model_uri.removeprefix("models:/").split("/")[0].split("@")[0]
    resolved = resolve_model(model_uri)
    options = {}
    if target == "docker":
        options["base_image"] = serving_environment(model_uri, project)
    record = start_deployment(target, model_uri, name or model_name, resolved, port, options)
    record["model_name"] = model_name
    record_deployment(record)
    return record
