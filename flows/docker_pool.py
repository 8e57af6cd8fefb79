"""The Docker work pool's deploy-time step: prefect.yaml's `train-docker` and
`retrain-docker` run it as their `build:` step (`prefect deploy` imports and
calls it), and their job variables take its outputs:

    build:
      - mlcadence.flows.docker_pool.flow_image:
          id: flow-image
    work_pool:
      job_variables:
        image: "{{ flow-image.image }}"
        env: "{{ flow-image.env }}"

Before anything is deployed it refuses a tracking URI the containers cannot
reach (a file store or sqlite file on this machine), then builds the
stockpred project's environment image (mlcadence and its flow dependencies,
from the project's own Dockerfile and requirements), tagged by its content so
an unchanged checkout reuses it, and hands the containers the tracking URI and
token they log with.

The token never sits in the deployment's job variables, which anyone who can
read the Prefect API sees: it is saved as a Prefect Secret block (encrypted at
rest), and the variables hold only a reference to it, which the worker
resolves when it starts each flow run's container.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlcadence.projects
from mlcadence.containers.reachable_store import require_network_store
from mlcadence.projects.environments.docker import keyed_environment_image
from mlcadence.projects.spec import load_project
from mlcadence.settings import TRACKING_TOKEN_VARIABLES, get_settings
from mlcadence.tracking.tracking_uri import get_tracking_uri

# The project whose Docker environment the flows run in (installed with the package).
STOCKPRED = Path(mlcadence.projects.__file__).resolve().parent / "stockpred"


def token_secret_name(tracking_uri: str) -> str:
    """One Secret block per tracking server: deploys aimed at two servers keep
    both tokens. (Block names allow lowercase letters, digits and dashes.)"""
    return "mlcadence-tracking-token-" + hashlib.sha256(tracking_uri.encode()).hexdigest()[:12]


def save_token_secret(tracking_uri: str, token: str) -> str:
    """Save `token` as a Prefect Secret block; the template that resolves to it."""
    from prefect.blocks.system import Secret

    name = token_secret_name(tracking_uri)
    # _sync: a build step may be called where Prefect sees an event loop and
    # would hand back an un-awaited coroutine instead of saving.
    Secret(value=token).save(name, overwrite=True, _sync=True)
    return "{{ prefect.blocks.secret." + name + " }}"


def container_environment(
    tracking_uri: str, secret_reference: Callable[[str, str], str] = save_token_secret
) -> dict[str, str]:
    """What a flow container needs to log to the store: the URI and, for a
    tracking server with auth, the token (under both clients' names) as a
    reference to the Secret block `secret_reference` saved it in."""
    env = {"MLCADENCE_TRACKING_URI": tracking_uri, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    token = get_settings().tracking_token
    if token is not None and token.get_secret_value():
        reference = secret_reference(tracking_uri, token.get_secret_value())
        env.update({name: reference for name in TRACKING_TOKEN_VARIABLES})
    return env


def flow_image(project: str | None = None) -> dict[str, Any]:
    """prefect.yaml build step: {"image": tag, "env": {...}} for the Docker pool's job."""
    tracking_uri = require_network_store(get_tracking_uri())
    spec = load_project(project or STOCKPRED)
    image = keyed_environment_image(spec, sys.stderr.write, get_settings().cache_dir)
    return {"image": image, "env": container_environment(tracking_uri)}
