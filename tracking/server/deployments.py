"""The Deployments page's two endpoints: which model versions a deploy tagged
(`GET /ui/deployments`) and one live look at one of them
(`GET /ui/deployments/health?name=&version=`).

The browser cannot read another origin's /health and /metrics, so this server
reads them for it, but only at the endpoint recorded in the version's tags,
never at a URL the request names: a request can make this server fetch
nothing but a deployment's own /health and /metrics. A deployment that does
not answer is a state of the page ("unreachable"), not an error.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mlcadence.tracking.conventions import (
    DEPLOYMENT_DEPLOYED_AT_TAG,
    DEPLOYMENT_ENDPOINT_TAG,
    DEPLOYMENT_STOPPED_AT_TAG,
    DEPLOYMENT_TARGET_TAG,
)
from mlcadence.tracking.errors import InvalidInput, NotFound
from mlcadence.tracking.server.context import ServerContext
from mlcadence.tracking.server.metrics_summary import summarize

# A probe waits this long per request: the page shows "unreachable" rather than hang.
PROBE_TIMEOUT_SECONDS = 2.0
JSON = "application/json"


@dataclass
class Deployment:
    name: str
    version: str
    endpoint: str
    target: str | None
    deployed_at: str | None
    stopped_at: str | None

    @property
    def stopped(self) -> bool:
        # A redeploy after a stop deletes the tag; compare anyway, in case an
        # older deploy left it behind.
        return bool(self.stopped_at) and self.stopped_at >= (self.deployed_at or "")

    @property
    def service_root(self) -> str:
        """The server's base URL: the endpoint's scheme and host, without /invocations."""
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(
                f"Version {self.version} of {self.name!r} records endpoint {self.endpoint!r}, "
                "which is not an http(s) URL; redeploy it with `mlcadence deploy`."
            )
        return f"{parts.scheme}://{parts.netloc}{parts.path.removesuffix('/invocations')}"


def _deployment(version) -> Deployment | None:
    tags = version.tags or {}
    endpoint = tags.get(DEPLOYMENT_ENDPOINT_TAG)
    if not endpoint:
        return None
    return Deployment(
        name=version.name,
        version=str(version.version),
        endpoint=endpoint,
        target=tags.get(DEPLOYMENT_TARGET_TAG),
        deployed_at=tags.get(DEPLOYMENT_DEPLOYED_AT_TAG),
        stopped_at=tags.get(DEPLOYMENT_STOPPED_AT_TAG),
    )


def deployed_versions(ctx: ServerContext) -> list[Deployment]:
    """Every model version a deploy tagged, the latest deploy first."""
    found = [_deployment(v) for v in ctx.client.search_model_versions(None)]
    deployments = [d for d in found if d is not None]
    deployments.sort(key=lambda d: d.deployed_at or "", reverse=True)
    return deployments


def deployment_of(ctx: ServerContext, name: str | None, version: str | None) -> Deployment:
    if not name or not version:
        raise InvalidInput(
            "Give the model version to look at: /ui/deployments/health?name=<model>&version=<n>."
        )
    deployment = _deployment(ctx.client.get_model_version(name, version))
    if deployment is None:
        raise NotFound(
            f"Version {version} of {name!r} has no deployment recorded (no "
            f"'{DEPLOYMENT_ENDPOINT_TAG}' tag); deploy it with `mlcadence deploy`."
        )
    return deployment


def _health_state(deployment: Deployment, response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = {}
    served = (body.get("model") or {}).get("version") if isinstance(body, dict) else None
    served = None if served is None else str(served)
    if response.status_code == 200 and served == deployment.version:
        state = "live"
    elif response.status_code == 200:
        state = "replaced"  # the endpoint now serves another version (redeploy, alias moved)
    elif response.status_code == 503:
        state = "unavailable"  # up, but no model loaded
    else:
        state = "error"
    status = body.get("status") if isinstance(body, dict) else None
    return {"state": state, "http_status": response.status_code, "status": status, "served": served}


def _metrics_state(response: httpx.Response) -> dict:
    if response.status_code == 401:
        return {"problem": "this deployment's /metrics needs its token"}
    if response.status_code != 200:
        return {"problem": f"/metrics answered HTTP {response.status_code}"}
    return summarize(response.text)


async def probe(deployment: Deployment, timeout: float = PROBE_TIMEOUT_SECONDS) -> dict:
    """One look at a deployment: its state (live, replaced, unavailable,
    unreachable, stopped, error), what /health said and its request metrics."""
    report = {**asdict(deployment), "served": None, "metrics": None, "problem": None}
    if deployment.stopped:
        return {**report, "state": "stopped"}
    root = deployment.service_root
    # No redirects: the request goes to the recorded endpoint and nowhere else.
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        health, metrics = await asyncio.gather(
            client.get(f"{root}/health"), client.get(f"{root}/metrics"), return_exceptions=True
        )
    if isinstance(health, Exception):
        problem = f"{root}/health did not answer ({type(health).__name__})"
        return {**report, "state": "unreachable", "problem": problem}
    report.update(_health_state(deployment, health))
    if isinstance(metrics, Exception):
        report["metrics"] = {"problem": f"/metrics did not answer ({type(metrics).__name__})"}
    else:
        report["metrics"] = _metrics_state(metrics)
    return report


def listing(ctx: ServerContext):
    async def endpoint(_request: Request) -> Response:
        found = await run_in_threadpool(deployed_versions, ctx)
        body = {"deployments": [asdict(d) for d in found]}
        return Response(json.dumps(body), media_type=JSON)

    return endpoint


def health(ctx: ServerContext):
    async def endpoint(request: Request) -> Response:
        query = request.query_params
        deployment = await run_in_threadpool(
            deployment_of, ctx, query.get("name"), query.get("version")
        )
        return Response(json.dumps(await probe(deployment)), media_type=JSON)

    return endpoint
