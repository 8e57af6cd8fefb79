"""docker_env projects: run the entry point in a container (Python `docker` SDK).

Images:
- the base is `docker_env.image`. When it is not on this machine and the
  project has a `Dockerfile`, it is built from that (build arg BASE_IMAGE =
  the `docker_base_image` setting; a `requirements.txt` in the project is
  turned into a host-built wheelhouse at `.wheelhouse/` in the build context,
  since containers here cannot pip-install over HTTPS). Otherwise it must
  exist or be pullable.
- the project image `<name>:<commit[:7] or content hash>` is the base plus
  the project copied to /mlflow/projects/code (MLflow's layout). It is built
  when `build_image` is asked for or when it is missing.
- `keyed_environment_image`: the Dockerfile's image tagged by what it is made
  of (`<name>-env:<key>`), for the flow containers of a Docker work pool.

Run: the tracking store is mounted (file stores at /mlflow/tmp/mlruns, as
MLflow does; sqlite by its directory; a run's local artifact directory at its
own path); a tracking server is reached over the network instead (the host's
network for one on this machine; its token is passed in), the run's variables and MLproject `environment` are set, MLproject
`volumes` are mounted, logs are streamed, the exit code is returned and the
container is always removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from mlcadence.containers import wheelhouse
from mlcadence.containers.docker import build_image, docker_client, image_exists
from mlcadence.projects.environments.base import Execution, OutputSink
from mlcadence.projects.errors import EnvironmentUnavailable, InvalidProject
from mlcadence.projects.spec import DockerEnv, Project
from mlcadence.settings import TRACKING_TOKEN_VARIABLES

CONTAINER_CODE_DIR = "/mlflow/projects/code/"
CONTAINER_STORE_DIR = "/mlflow/tmp/mlruns"
WHEELHOUSE_DIR = ".wheelhouse"
_CONTEXT_IGNORE = (".git", "mlruns", "__pycache__", "*.pyc", ".pytest_cache", WHEELHOUSE_DIR)


def _image_name(project: Project) -> str:
    name = project.name or project.directory.name
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "docker-project"


def _content_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    ignore = shutil.ignore_patterns(*_CONTEXT_IGNORE)
    for root, dirs, files in os.walk(directory):
        skipped = ignore(root, dirs + files)
        dirs[:] = sorted(d for d in dirs if d not in skipped)
        for name in sorted(f for f in files if f not in skipped):
            path = Path(root) / name
            digest.update(str(path.relative_to(directory)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def environment_image(project: Project, output: OutputSink, cache_dir: Path) -> str:
    """The project's `docker_env` image, built from its Dockerfile (or pulled)
    when missing, as a run does: what a model trained by the project is served
    in by the docker deploy target."""
    if project.environment.kind != "docker_env":
        raise InvalidProject(
            f"The project at {project.directory} has no `docker_env` section, so it has no "
            "Docker environment to serve in; add one (docker_env: {image: ...}) or deploy "
            "without --project."
        )
    env = project.environment.docker
    DockerEnvManager().ensure_base_image(docker_client(), project, env, output, cache_dir)
    return env.image


def _requirement_lines(project: Project) -> list[str]:
    requirements = project.directory / "requirements.txt"
    if not requirements.is_file():
        return []
    lines = [ln.strip() for ln in requirements.read_text().splitlines()]
    return [ln for ln in lines if wheelhouse.requirement_name(ln)]


def _is_own(line: str) -> bool:
    return wheelhouse.requirement_name(line) == wheelhouse.normalize_name(
        wheelhouse.OWN_DISTRIBUTION
    )


def build_from_dockerfile(client, project: Project, tag: str, output: OutputSink, cache_dir: Path):
    """Build the project's Dockerfile as `tag`, with a host-built wheelhouse
    of its requirements.txt in the context (containers cannot pip over HTTPS)."""
    from mlcadence.settings import get_settings

    with tempfile.TemporaryDirectory(prefix="mlcadence-base-ctx-") as tmp:
        context = Path(tmp) / "ctx"
        shutil.copytree(project.directory, context, ignore=shutil.ignore_patterns(*_CONTEXT_IGNORE))
        wheels = context / WHEELHOUSE_DIR
        wheels.mkdir()
        lines = _requirement_lines(project)
        third_party = [ln for ln in lines if not _is_own(ln)]
        if len(third_party) != len(lines):
            # `mlcadence` is this checkout's wheel; pip needs its dependencies too.
            shutil.copy(wheelhouse.own_wheel(cache_dir, output), wheels)
            third_party = wheelhouse.merge_requirements(
                wheelhouse.own_dependencies(), third_party, set()
            )
        if third_party:
            built = wheelhouse.third_party_wheelhouse(third_party, cache_dir, output)
            for whl in built.glob("*.whl"):
                shutil.copy(whl, wheels)
        (wheels / "requirements.txt").write_text("\n".join(lines) + "\n")
        build_image(
            client,
            context,
            tag,
            output,
            buildargs={"BASE_IMAGE": get_settings().docker_base_image},
        )


def _environment_key(client, project: Project) -> str:
    """What the image built from the project's Dockerfile is made of: the
    project's files, its requirements, this checkout's source (when the image
    installs mlcadence, with mlcadence's pinned dependencies) and the base
    image. The same inputs give the same tag, so nothing is rebuilt (not even
    a wheel) until one of them changes."""
    from mlcadence.settings import get_settings

    digest = hashlib.sha256()
    lines = _requirement_lines(project)
    if any(_is_own(line) for line in lines):
        lines += [wheelhouse.own_source_digest(), *wheelhouse.own_dependencies()]
    base = get_settings().docker_base_image
    base_id = client.images.get(base).id if image_exists(client, base) else base
    for part in (_content_hash(project.directory), base_id, *lines):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:12]


def keyed_environment_image(project: Project, output: OutputSink, cache_dir: Path) -> str:
    """The project's Docker environment as an image keyed by its content
    (`<name>-env:<key>`), built from its Dockerfile when missing: what flows
    run in on a Docker work pool (the stockpred image installs mlcadence, so
    `mlcadence.flows.*` import there)."""
    if not (project.directory / "Dockerfile").is_file():
        raise InvalidProject(
            f"The project at {project.directory} has no Dockerfile to build its environment "
            "image from; add one (see projects/stockpred/Dockerfile)."
        )
    client = docker_client()
    tag = f"{_image_name(project)}-env:{_environment_key(client, project)}"
    if not image_exists(client, tag):
        output(f"Building {tag} from {project.directory / 'Dockerfile'}\n")
        build_from_dockerfile(client, project, tag, output, cache_dir)
    return tag


class DockerEnvManager:
    name = "docker"

    def check(self, project: Project) -> None:
        if project.environment.kind != "docker_env":
            raise InvalidProject(
                "--env-manager docker needs a `docker_env` section in MLproject naming the "
                "image to run in, e.g. docker_env: {image: my-image:latest}."
            )
        docker_client()

    # -- images -------------------------------------------------------------------
    def ensure_base_image(
        self, client, project: Project, env: DockerEnv, output: OutputSink, cache_dir: Path
    ):
        if image_exists(client, env.image):
            return
        dockerfile = project.directory / "Dockerfile"
        if dockerfile.is_file():
            output(f"Base image {env.image} is missing; building it from {dockerfile}\n")
            build_from_dockerfile(client, project, env.image, output, cache_dir)
            return
        try:
            output(f"Pulling {env.image}\n")
            client.images.pull(env.image)
        except Exception as exc:
            raise EnvironmentUnavailable(
                f"docker_env.image '{env.image}' is not on this machine and cannot be pulled "
                f"({exc}). Build it first (docker build -t {env.image} .), or add a Dockerfile "
                "to the project so it is built automatically."
            ) from None

    def project_image(self, client, project: Project, execution: Execution):
        """The base image plus the project's code; built when asked or missing."""
        env = project.environment.docker
        version = (execution.git_commit or _content_hash(project.directory))[:7]
        tag = f"{_image_name(project)}:{version}"
        if not execution.build_image and image_exists(client, tag):
            return client.images.get(tag)
        self.ensure_base_image(client, project, env, execution.output, execution.cache_dir)
        with tempfile.TemporaryDirectory(prefix="mlcadence-project-ctx-") as tmp:
            context = Path(tmp)
            shutil.copytree(
                project.directory,
                context / "project",
                ignore=shutil.ignore_patterns(*_CONTEXT_IGNORE),
            )
            (context / "Dockerfile.mlcadence").write_text(
                f"FROM {env.image}\n"
                f"COPY project/ {CONTAINER_CODE_DIR}\n"
                f"WORKDIR {CONTAINER_CODE_DIR}\n"
            )
            execution.output(f"Building project image {tag}\n")
            return build_image(
                client, context, tag, execution.output, dockerfile="Dockerfile.mlcadence"
            )

    # -- run ----------------------------------------------------------------------
    def container_settings(self, project: Project, execution: Execution) -> dict:
        """Volumes, environment and network for the entry point's container."""
        env = project.environment.docker
        volumes: list[str] = []
        variables = dict(execution.env)
        network_mode = None
        uri = execution.tracking_uri
        parsed = urlparse(uri)
        if len(parsed.scheme) <= 1 or parsed.scheme == "file":
            store = Path(parsed.path if parsed.scheme == "file" else uri).resolve()
            store.mkdir(parents=True, exist_ok=True)
            volumes.append(f"{store}:{CONTAINER_STORE_DIR}")
            variables["MLCADENCE_TRACKING_URI"] = CONTAINER_STORE_DIR
            variables["MLFLOW_TRACKING_URI"] = f"file://{CONTAINER_STORE_DIR}"
        elif parsed.scheme == "sqlite":
            db = Path(parsed.path[1:] if parsed.path.startswith("//") else parsed.path).resolve()
            volumes.append(f"{db.parent}:{CONTAINER_STORE_DIR}")
            inside = f"sqlite:///{CONTAINER_STORE_DIR}/{db.name}"
            variables["MLCADENCE_TRACKING_URI"] = inside
            variables["MLFLOW_TRACKING_URI"] = inside
        elif parsed.hostname in ("localhost", "127.0.0.1", "::1"):
            network_mode = "host"  # a server on this machine is only reachable that way
        if parsed.scheme in ("http", "https"):
            # The container talks to the tracking server itself: hand it the token.
            variables.update(
                {k: os.environ[k] for k in TRACKING_TOKEN_VARIABLES if os.environ.get(k)}
            )
        # The run's artifact URI is a host path recorded in the store; mount it
        # at the same path so writes through it land on the host.
        art = urlparse(execution.artifact_uri)
        if art.scheme in ("", "file") and art.path:
            art_dir = Path(art.path)
            art_dir.mkdir(parents=True, exist_ok=True)
            volumes.append(f"{art_dir}:{art_dir}")
        for volume in env.volumes:
            host, _, rest = volume.partition(":")
            host_path = Path(host).expanduser()
            if not host_path.is_absolute():
                host_path = (project.directory / host_path).resolve()
            volumes.append(f"{host_path}:{rest}")
        variables.update(env.resolve_environment())
        settings = {"volumes": volumes, "environment": variables}
        if network_mode:
            settings["network_mode"] = network_mode
        if os.getuid() != 0:
            # Files the run writes into the mounted store stay the user's.
            settings["user"] = f"{os.getuid()}:{os.getgid()}"
        return settings

    def execute(self, execution: Execution) -> int:
        client = docker_client()
        project = execution.project
        image = self.project_image(client, project, execution)
        execution.set_tag("mlflow.docker.image.uri", image.tags[0] if image.tags else image.id)
        execution.set_tag("mlflow.docker.image.id", image.id)
        settings = self.container_settings(project, execution)
        container = client.containers.run(
            image.id,
            command=["bash", "-c", execution.command],
            detach=True,
            working_dir=CONTAINER_CODE_DIR,
            labels={"mlcadence.run_id": execution.run_id},
            **settings,
        )
        try:
            for chunk in container.logs(stream=True, follow=True):
                execution.output(chunk.decode("utf-8", errors="replace"))
            return int(container.wait().get("StatusCode", 1))
        finally:
            try:
                container.remove(force=True)
            except Exception:  # already gone; nothing left to clean
                pass
