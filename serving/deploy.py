"""Deploy targets: what "deploy model M version V on port P" means per target.

A target implements `DeployTarget`: `deploy` starts the new server, waits
until its /health reports that version, and only then stops the previous
deployment on the same port/name (on failure the old one keeps serving and
`DeployError` is raised); `list` and `stop` manage what is running. Targets
are looked up by name in `DEPLOY_TARGETS` ("module:Class", imported lazily so
a target whose extra dependencies are missing costs nothing until used).

Every deployment belongs to the tracking store its model came from (`store`,
an id derived from the tracking URI): a deploy only ever replaces its own
store's deployments, and refuses a port another store's deployment serves.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from mlcadence.serving.errors import DeployError
from mlcadence.tracking.conventions import (
    DEPLOYMENT_DEPLOYED_AT_TAG,
    DEPLOYMENT_ENDPOINT_TAG,
    DEPLOYMENT_STOPPED_AT_TAG,
    DEPLOYMENT_TARGET_TAG,
)

DEPLOY_TARGETS: dict[str, str] = {
    "local": "mlcadence.serving.local_target:LocalTarget",
    "docker": "mlcadence.serving.docker_target:DockerTarget",
}

# Model version tags written for every deployment (what, where, when).
DEPLOYMENT_TAGS = (DEPLOYMENT_ENDPOINT_TAG, DEPLOYMENT_DEPLOYED_AT_TAG, DEPLOYMENT_TARGET_TAG)


@dataclass
class DeploymentRecord:
    name: str
    target: str
    model_uri: str
    port: int
    endpoint: str
    model_name: str | None = None
    version: str | None = None
    handle: str | None = None  # pid for local, container id for docker
    started_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )
    status: str = "running"
    log_path: str | None = None
    details: dict = field(default_factory=dict)
    store: str | None = None  # store_id() of the tracking store the model came from

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def health_url(self) -> str:
        return self.endpoint.removesuffix("/invocations") + "/health"

    @classmethod
    def from_dict(cls, data: dict) -> DeploymentRecord:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@runtime_checkable
class DeployTarget(Protocol):
    def deploy(
        self, model_uri: str, name: str, version: str | None, port: int, **options
    ) -> DeploymentRecord: ...

    def list(self, store: str | None = None) -> list[DeploymentRecord]: ...

    def stop(self, name_or_port: str | int, store: str | None = None) -> DeploymentRecord: ...


def store_id(tracking_uri: str) -> str:
    """A short, stable id of the tracking store at `tracking_uri` (the
    password left out, so changing it keeps the id)."""
    from mlcadence.tracking.tracking_uri import normalize_uri

    parts = urlsplit(normalize_uri(tracking_uri))
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username
    canonical = urlunsplit(parts._replace(netloc=f"{user}@{netloc}" if user else netloc))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def current_store(tracking_uri: str | None = None) -> str:
    """store_id() of `tracking_uri`, else of the process's tracking URI."""
    from mlcadence.tracking.tracking_uri import get_tracking_uri

    return store_id(tracking_uri or get_tracking_uri())


def port_taken_by_other_store(
    records: list[DeploymentRecord], port: int, store: str
) -> DeploymentRecord | None:
    """A running deployment of another store on `port`: deploying there would
    share the port with it (SO_REUSEPORT), so the deploy is refused."""
    for record in records:
        if record.port == port and record.store != store and record.status == "running":
            return record
    return None


def refuse_foreign_port(record: DeploymentRecord) -> DeployError:
    return DeployError(
        f"Port {record.port} is served by deployment {record.name!r} ({record.target}) of "
        f"another tracking store (store id {record.store}); choose another --port, or stop it "
        f"with `mlcadence deployments stop {record.port} --target {record.target} --all-stores`."
    )


def probe_health(record: DeploymentRecord, timeout: float = 3.0) -> str:
    """One look at a deployment's public /health: 'ok v<version>',
    'unavailable', or 'unreachable'."""
    import httpx

    try:
        response = httpx.get(record.health_url, timeout=timeout)
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return "unreachable"
    served = (body.get("model") or {}).get("version")
    if response.status_code == 200 and served is not None:
        return f"ok v{served}"
    return body.get("status") or f"HTTP {response.status_code}"


def health_check(admin_port: int, version: str | None) -> tuple[bool, str]:
    """One look at a new server's /health on its private admin port (which the
    server it replaces cannot answer): (True, "") once it answers 200 serving
    `version` (any version when None), else (False, what it said instead)."""
    import httpx

    try:
        response = httpx.get(f"http://127.0.0.1:{admin_port}/health", timeout=5)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return False, str(exc)
    served = (body.get("model") or {}).get("version")
    if response.status_code == 200 and (version is None or str(served) == str(version)):
        return True, ""
    return False, f"HTTP {response.status_code}, serving version {served}"


def get_target(name: str) -> DeployTarget:
    try:
        spec = DEPLOY_TARGETS[name]
    except KeyError:
        raise DeployError(
            f"Unknown deploy target {name!r}; choose one of {sorted(DEPLOY_TARGETS)}."
        ) from None
    module_name, _, attr = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise DeployError(f"Deploy target {name!r} is not available here ({exc}).") from exc
    return cls()


def model_uri_for(
    model_name: str, alias: str | None = "champion", version: str | int | None = None
) -> str:
    """A pinned version wins; otherwise the alias (which the server then follows)."""
    if version not in (None, ""):
        return f"models:/{model_name}/{version}"
    if not alias:
        raise DeployError("Give a version or an alias to deploy.")
    return f"models:/{model_name}@{alias}"


def resolve_version(model_uri: str) -> str:
    from mlcadence.tracking.uris import resolve_model_uri

    resolved = resolve_model_uri(model_uri)
    if resolved.version is None:
        raise DeployError(f"{model_uri!r} is not a registered model version; register it first.")
    return str(resolved.version)


def record_deployment(record: DeploymentRecord, client=None) -> None:
    """Tag the model version with where, when and how it was deployed."""
    if record.model_name is None or record.version is None:
        return
    if client is None:
        from mlcadence.tracking import Client

        client = Client()
    values = {
        DEPLOYMENT_ENDPOINT_TAG: record.endpoint,
        DEPLOYMENT_DEPLOYED_AT_TAG: record.started_at,
        DEPLOYMENT_TARGET_TAG: record.target,
    }
    for key in DEPLOYMENT_TAGS:
        client.set_model_version_tag(record.model_name, record.version, key, values[key])
    if (
        DEPLOYMENT_STOPPED_AT_TAG
        in client.get_model_version(record.model_name, record.version).tags
    ):
        client.delete_model_version_tag(
            record.model_name, record.version, DEPLOYMENT_STOPPED_AT_TAG
        )


def record_stop(record: DeploymentRecord, client) -> bool:
    """Tag the stopped deployment's model version with when it stopped (so the
    UI shows it as stopped, not as an endpoint that went down), if the
    version's tags still describe this deployment. True when tagged."""
    from mlcadence.tracking.errors import InvalidInput, NotFound
    from mlcadence.tracking.uris import parse_models_uri

    if record.version is None:
        return False
    try:
        model_name = record.model_name or parse_models_uri(record.model_uri).name
        tags = client.get_model_version(model_name, record.version).tags
    except (NotFound, InvalidInput):
        return False  # the version is gone, or the model was not served from the registry
    if tags.get(DEPLOYMENT_ENDPOINT_TAG) != record.endpoint:
        return False  # redeployed elsewhere since: that deployment is not this one
    stopped_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    client.set_model_version_tag(model_name, record.version, DEPLOYMENT_STOPPED_AT_TAG, stopped_at)
    return True


def deploy_model(
    model_name: str,
    *,
    alias: str | None = "champion",
    version: str | int | None = None,
    target: str = "local",
    port: int = 5000,
    name: str | None = None,
    **options,
) -> DeploymentRecord:
    """Resolve, deploy, record: the whole local-or-docker deploy in one call."""
    model_uri = model_uri_for(model_name, alias, version)
    resolved_version = resolve_version(model_uri)
    record = get_target(target).deploy(
        model_uri, name or model_name, resolved_version, port, **options
    )
    record.model_name = record.model_name or model_name
    record_deployment(record)
    return record


def list_deployments(
    store: str | None, targets: tuple[str, ...] = tuple(DEPLOY_TARGETS)
) -> tuple[list[DeploymentRecord], dict[str, str]]:
    """Every target's deployments (of `store`; all stores when None), and
    why each target that cannot be asked here (no Docker engine) was left out."""
    from mlcadence.containers.errors import EngineUnavailable

    records: list[DeploymentRecord] = []
    unavailable: dict[str, str] = {}
    for name in targets:
        try:
            records += get_target(name).list(store)
        except (EngineUnavailable, DeployError) as exc:
            unavailable[name] = exc.message
    return records, unavailable
