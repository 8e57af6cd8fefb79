"""Deploy target `docker`: a model-server image per model version
(`serving.docker_image`), swapped blue/green.

Swap: containers use the host's network and the server's SO_REUSEPORT
listener, so the new container binds the same port while the old one still
serves. It is health-checked on a private admin port (127.0.0.1) until
/health reports the new version; only then is the old container stopped
(SIGTERM: uvicorn finishes in-flight requests). If the new one fails, it is
removed, the old one keeps serving, and the deploy raises `DeployError`.

A container serves the one version baked into its image, so a deployment of
an alias (`models:/name@champion`) is re-resolved and replaced blue/green on
each deploy (the promotion event starts one). Containers carry their store's
id as a label: a deploy replaces only its own store's containers.

The image is the slim serving image, or, given `base_image` (the project's
Docker environment, found by the layer above), that image plus the server.
"""

from __future__ import annotations

import secrets
import socket
import time
from pathlib import Path

from mlcadence.containers.docker import docker_client
from mlcadence.serving.deploy import (
    DeploymentRecord,
    health_check,
    port_taken_by_other_store,
    record_deployment,
    refuse_foreign_port,
    store_id,
)
from mlcadence.serving.docker_image import LABEL_PREFIX, build_server_image, image_tag
from mlcadence.serving.errors import DeployError, DeploymentNotFound

TARGET_NAME = "docker"
HEALTH_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DockerTarget:
    """The `docker` entry of serving.deploy.DEPLOY_TARGETS: `deploy`, `list`,
    `stop` for model-server containers on this machine. Errors are
    serving's DeployError / DeploymentNotFound, like every target's."""

    name = TARGET_NAME

    def __init__(self, base_image: str | None = None, cache_dir: Path | None = None):
        from mlcadence.settings import get_settings

        settings = get_settings()
        self.base_image = base_image or settings.docker_base_image
        self.cache_dir = Path(cache_dir or Path(settings.cache_dir) / "docker")

    # -- deploy ---------------------------------------------------------------
    def deploy(
        self,
        model_uri: str,
        name: str | None = None,
        version=None,
        port: int = 8080,
        *,
        output=lambda text: None,
        tracking_uri: str | None = None,
        health_timeout: float = HEALTH_TIMEOUT_S,
        base_image: str | None = None,
        **_ignored,
    ) -> DeploymentRecord:
        """Build `<model>:<version>` (on `base_image`, a project's Docker
        environment, when given), start it on `port`, wait until /health
        reports that version, then stop what this store served there before."""
        from mlcadence.tracking import Client
        from mlcadence.tracking.models.loading import registry_pin
        from mlcadence.tracking.uris import resolve_model_uri

        client = Client(tracking_uri)
        store = store_id(client.tracking_uri)
        resolved = resolve_model_uri(model_uri, client)
        model_name = resolved.name
        version = str(resolved.version) if resolved.version is not None else version
        if not model_name or version is None:
            raise DeployError(
                f"'{model_uri}' is not a registered model version, so the image has no "
                "<model>:<version> tag. Deploy a models:/<name>/<version> (or @alias) URI."
            )
        name = name or model_name
        if foreign := port_taken_by_other_store(self.list(), port, store):
            raise refuse_foreign_port(foreign)
        image = build_server_image(
            Path(resolved.local_path),
            model_name,
            version,
            self.base_image,
            self.cache_dir,
            output,
            manifest_sha256=registry_pin(resolved.model_version),
            environment_image=base_image,
        )
        docker = docker_client()
        previous = [
            c
            for c in self._containers(docker, store)
            if _labels(c).get("port") == str(port) or _labels(c).get("name") == name
        ]
        container = self._start(docker, image, name, model_name, version, port, model_uri, store)
        admin_port = int(_labels(container)["admin_port"])
        try:
            self._wait_healthy(container, admin_port, version, health_timeout)
        except BaseException as exc:
            logs = _tail_logs(container)
            _remove(container)
            raise DeployError(
                f"The new container for {model_name} v{version} did not become healthy on port "
                f"{port} ({getattr(exc, 'message', exc)}); the previous deployment, if any, "
                f"keeps serving. Container log tail:\n{logs}"
            ) from None
        for old in previous:
            _stop(old)
        record = DeploymentRecord(
            name=name,
            target=TARGET_NAME,
            model_uri=model_uri,
            port=port,
            endpoint=f"http://127.0.0.1:{port}/invocations",
            model_name=model_name,
            version=version,
            handle=container.id,
            details={
                "image": image_tag(model_name, version),
                "image_id": image.id,
                "container_id": container.id,
                "admin_port": admin_port,
                "environment": base_image or "slim",
            },
            store=store,
        )
        record_deployment(record, client)
        for key in ("image", "image_id", "container_id"):
            client.set_model_version_tag(model_name, version, f"docker.{key}", record.details[key])
        return record

    def _start(self, docker, image, name, model_name, version, port, model_uri, store):
        admin_port = free_port()
        labels = {
            f"{LABEL_PREFIX}.target": TARGET_NAME,
            f"{LABEL_PREFIX}.store": store,
            f"{LABEL_PREFIX}.name": name,
            f"{LABEL_PREFIX}.model_name": model_name,
            f"{LABEL_PREFIX}.version": str(version),
            f"{LABEL_PREFIX}.port": str(port),
            f"{LABEL_PREFIX}.admin_port": str(admin_port),
            f"{LABEL_PREFIX}.model_uri": model_uri,
            f"{LABEL_PREFIX}.started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return docker.containers.run(
            image.id,
            command=[
                "python",
                "-m",
                "mlcadence.serving.server",
                "--model-uri",
                f"models:/{model_name}/{version}",
                "--host",
                "0.0.0.0",
                "--port",
                str(port),
                "--reuse-port",
                "--admin-port",
                str(admin_port),
            ],
            name=f"mlcadence-{image_tag(name, version).replace(':', '-v')}-{secrets.token_hex(3)}",
            detach=True,
            network_mode="host",
            labels=labels,
        )

    def _wait_healthy(self, container, admin_port: int, version: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            container.reload()
            if container.status in ("exited", "dead"):
                code = container.attrs["State"].get("ExitCode")
                raise DeployError(f"the container exited with code {code}")
            healthy, last = health_check(admin_port, version)
            if healthy:
                return
            time.sleep(0.3)
        raise DeployError(
            f"/health did not report version {version} within {timeout:.0f} s ({last})"
        )

    # -- list / stop ----------------------------------------------------------
    def _containers(self, docker, store: str | None = None):
        wanted = [f"{LABEL_PREFIX}.target={TARGET_NAME}"]
        if store is not None:
            wanted.append(f"{LABEL_PREFIX}.store={store}")
        return docker.containers.list(filters={"label": wanted})

    def list(self, store: str | None = None):
        docker = docker_client()
        records = []
        for c in self._containers(docker, store):
            labels = _labels(c)
            port = int(labels.get("port", 0))
            records.append(
                DeploymentRecord(
                    name=labels.get("name", ""),
                    target=TARGET_NAME,
                    model_uri=labels.get("model_uri", ""),
                    port=port,
                    endpoint=f"http://127.0.0.1:{port}/invocations",
                    model_name=labels.get("model_name"),
                    version=labels.get("version"),
                    handle=c.id,
                    started_at=labels.get("started_at", ""),
                    status=c.status,
                    details={
                        "image": (c.image.tags or [c.image.id])[0],
                        "image_id": c.image.id,
                        "container_id": c.id,
                        "admin_port": labels.get("admin_port"),
                    },
                    store=labels.get("store"),
                )
            )
        return records

    def stop(self, name_or_port, store: str | None = None):
        """Stop the deployment(s) with this name or port (of `store`, when
        given); return the first one."""
        key = str(name_or_port)
        matches = [d for d in self.list(store) if d.name == key or str(d.port) == key]
        if not matches:
            raise DeploymentNotFound(
                f"No docker deployment named or on port '{key}'"
                + ("" if store is None else " of this tracking store")
                + "; see `mlcadence deployments list --all-stores`."
            )
        docker = docker_client()
        for record in matches:
            _stop(docker.containers.get(record.handle))
            record.status = "stopped"
        return matches[0]


def _labels(container) -> dict[str, str]:
    prefix = LABEL_PREFIX + "."
    return {
        k[len(prefix) :]: v for k, v in (container.labels or {}).items() if k.startswith(prefix)
    }


def _tail_logs(container, lines: int = 30) -> str:
    try:
        return container.logs(tail=lines).decode("utf-8", errors="replace")
    except Exception:  # the container may already be gone
        return "(no logs)"


def _stop(container) -> None:
    try:
        container.stop(timeout=STOP_TIMEOUT_S)
    finally:
        _remove(container)


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception:  # already removed
        pass
