"""Which Docker environment a model is served in: the one its MLproject trained it in.

The docker deploy target (serving) and the projects layer do not know each
other; this module, above both, finds the project's `docker_env` image and
hands its tag down to the target as `base_image`:

- a project given (`--project DIR`, the deploy flow's `project`): its
  `docker_env` image, built from its Dockerfile when missing, as a run does;
- else, when the model version's run came from an MLproject (`mlcadence
  project run` and `mlflow run` tag it `mlflow.source.type=PROJECT`): the image
  that run recorded (`mlflow.docker.image.uri`) when it is on this machine,
  else the `docker_env` image of the project the run names (`mlflow.source.name`,
  at its recorded git commit);
- else None: the target's slim serving image.
A project without a `docker_env` section has no environment to carry over,
so its models get the slim image too.
"""

from __future__ import annotations

from pathlib import Path

from mlcadence.projects.environments.base import OutputSink
from mlcadence.tracking.client import Client

SOURCE_TYPE_TAG = "mlflow.source.type"
SOURCE_NAME_TAG = "mlflow.source.name"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
IMAGE_TAG = "mlflow.docker.image.uri"


def _project_image(uri: str, version: str | None, output: OutputSink) -> str | None:
    from mlcadence.projects.environments.docker import environment_image
    from mlcadence.projects.fetch import fetch, is_git_uri, split_subdirectory
    from mlcadence.projects.runner import projects_cache_dir
    from mlcadence.projects.spec import load_project

    cache_dir = projects_cache_dir()
    # A local folder is used as it is now (its commit may belong to an
    # enclosing repository); a git source at the commit the run recorded.
    version = version if is_git_uri(split_subdirectory(uri)[0]) else None
    project = load_project(fetch(uri, version, cache_dir).directory)
    if project.environment.kind != "docker_env":
        return None
    return environment_image(project, output, cache_dir)


def _image_on_this_machine(tag: str) -> bool:
    from mlcadence.containers.docker import docker_client, image_exists

    return image_exists(docker_client(), tag)


def serving_environment(
    client: Client,
    model_uri: str,
    project: str | Path | None = None,
    output: OutputSink = lambda text: None,
) -> str | None:
    """The image tag to build `model_uri`'s server on, or None for the slim image."""
    if project is not None:
        from mlcadence.projects.environments.docker import environment_image
        from mlcadence.projects.runner import projects_cache_dir
        from mlcadence.projects.spec import load_project

        return environment_image(load_project(project), output, projects_cache_dir())
    from mlcadence.tracking.errors import NotFound
    from mlcadence.tracking.uris import resolve_model_uri

    resolved = resolve_model_uri(model_uri, client)
    version = resolved.model_version
    run_id = resolved.run_id or (version.run_id if version is not None else None)
    if not run_id:
        return None
    try:
        tags = client.get_run(run_id).data.tags
    except NotFound:
        return None
    if tags.get(SOURCE_TYPE_TAG) != "PROJECT" or not tags.get(SOURCE_NAME_TAG):
        return None
    recorded = tags.get(IMAGE_TAG)
    if recorded and _image_on_this_machine(recorded):
        return recorded
    return _project_image(tags[SOURCE_NAME_TAG], tags.get(GIT_COMMIT_TAG), output)
