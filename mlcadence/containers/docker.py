"""The Docker engine through the Python `docker` SDK: connect, look up and
build images. The SDK is imported on first use, so importing this module
costs nothing where Docker is not needed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlcadence.containers.errors import ContainerError, EngineUnavailable

OutputSink = Callable[[str], None]


def docker_client():
    """A client for the local engine, or a clear error saying how to get one."""
    try:
        import docker
    except ImportError:
        raise EngineUnavailable(
            "The `docker` Python package is missing; pip install docker."
        ) from None
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types here
        raise EngineUnavailable(
            f"Cannot reach a Docker engine ({exc}). Start dockerd (or set DOCKER_HOST) and "
            "check that `docker info` works."
        ) from None
    return client


def image_exists(client, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_image(
    client,
    context_dir: Path,
    tag: str,
    output: OutputSink,
    *,
    buildargs: dict[str, str] | None = None,
    dockerfile: str | None = None,
    nocache: bool = False,
):
    """Build `context_dir` as `tag` and return the Image. The SDK's low-level
    API is used so that build output streams as it comes."""
    image_id = None
    for chunk in client.api.build(
        path=str(context_dir),
        tag=tag,
        rm=True,
        forcerm=True,
        decode=True,
        nocache=nocache,
        buildargs=buildargs or {},
        dockerfile=dockerfile,
    ):
        if "stream" in chunk:
            output(chunk["stream"])
        if "error" in chunk:
            raise ContainerError(
                f"Building image {tag} failed: {chunk['error'].strip()}. "
                "Fix the Dockerfile or the build context, then run again."
            )
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    return client.images.get(image_id or tag)
