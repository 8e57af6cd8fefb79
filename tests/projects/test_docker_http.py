"""A docker_env project run that logs to our tracking server on the host over
http:// (token auth on), with no store mounted into the container: the
container reaches the server through the host's network and gets the token
from the run's environment.

Needs a running Docker engine and the base image (scripts/docker-base-image.sh).
"""

from __future__ import annotations

import secrets
import shutil

import pytest

from tests.tracking.server_fixtures import tracking_server  # noqa: F401

pytestmark = [pytest.mark.docker, pytest.mark.integration]


def test_docker_project_logs_to_the_tracking_server_on_the_host(
    docker,
    cache_env,
    tracking_server,  # noqa: F811
    tmp_path,
    write_files,
    monkeypatch,
):
    from mlcadence.containers.wheelhouse import own_wheel
    from mlcadence.projects import runner
    from mlcadence.settings import reload_settings
    from mlcadence.tracking import Client

    token = "w-" + secrets.token_hex(8)
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{token} write\n")
    server = tracking_server(f"sqlite:///{tmp_path / 'served.db'}", "--tokens-file", str(tokens))
    monkeypatch.setenv("MLCADENCE_TRACKING_TOKEN", token)
    reload_settings()

    suffix = secrets.token_hex(4)
    base_tag = f"mlcadence-test-http-base-{suffix}:1"
    project = write_files(
        tmp_path / "proj",
        {
            "MLproject": f"""
            name: dockerhttp-{suffix}
            docker_env:
              image: {base_tag}
            entry_points:
              main:
                command: "python train.py"
        """,
            "Dockerfile": """
            ARG BASE_IMAGE=python:3.11-slim
            FROM ${BASE_IMAGE}
            COPY .wheelhouse/ /tmp/wheels/
            COPY own/ /tmp/own/
            RUN python3 -m venv /opt/venv \\
             && /opt/venv/bin/pip install -q --no-index --find-links /tmp/wheels \\
                    -r /tmp/wheels/requirements.txt \\
             && /opt/venv/bin/pip install -q --no-index --no-deps /tmp/own/mlcadence-*.whl \\
             && rm -rf /tmp/wheels /tmp/own
            ENV PATH=/opt/venv/bin:$PATH
        """,
            # What `tracking` needs at run time over HTTP; our wheel is in own/.
            "requirements.txt": "pyyaml\npydantic-settings\nfilelock\nhttpx\n",
            "train.py": """
            import os, mlcadence
            mlcadence.log_metric("inside", 42.0)
            mlcadence.log_text("from the container", "note.txt")
            print("uri", os.environ["MLCADENCE_TRACKING_URI"], "mounts", os.path.exists("/mlflow/tmp/mlruns"))
        """,
        },
    )
    (project / "own").mkdir()
    shutil.copy(own_wheel(cache_env), project / "own")
    lines: list[str] = []
    try:
        result = runner.run(str(project), tracking_uri=server.url, output=lines.append)
        text = "".join(lines)
        assert result.status == "FINISHED", text
        assert f"uri {server.url} mounts False" in text
        client = Client(server.url)
        run = client.get_run(result.run_id)
        assert run.data.metrics == {"inside": 42.0}
        assert run.data.tags["mlflow.project.env"] == "docker"
        note = client.download_artifacts(result.run_id, "note.txt", tmp_path / "out")
        assert note.read_text() == "from the container"
        assert token not in server.log()
    finally:
        for prefix in (f"dockerhttp-{suffix}:", base_tag):
            for image in docker.images.list():
                if any(t.startswith(prefix) for t in image.tags):
                    docker.images.remove(image.id, force=True)
