"""The deploy flow: resolve a registered model -> start its server -> health
check -> record the deployment on the model version.

Deploying an alias (the default, `champion`) serves `models:/name@alias`: the
server then follows the alias by itself (hot reload), so later promotions
switch the endpoint without a redeploy and without dropping a request.
Deploying a version pins it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from prefect import flow
from pydantic import Field

from mlcadence.serving.deploy import model_uri_for
from mlcadence.tasks.deploy import record_deployment, resolve_model, start_deployment

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
) -> dict:
    """Deploy `model_name` (at `version`, else at `alias`) to `target` on `port`.

    `model_uri` (any models:/ URI) may replace model_name/alias/version, e.g.
    when triggered by a promotion event; `name` names the deployment
    (default: the model name).
    """
    if model_uri is None:
        if not model_name:
            raise ValueError("Give model_name (with alias or version) or model_uri.")
        model_uri = model_uri_for(model_name, alias, version)
    elif not model_name:
        model_name = model_uri.removeprefix("models:/").split("/")[0].split("@")[0]
    resolved = resolve_model(model_uri)
    record = start_deployment(target, model_uri, name or model_name, resolved, port)
    record["model_name"] = model_name
    record_deployment(record)
    return record
