"""Real Docker: a docker_env project run (image built from the project's
Dockerfile with a host wheelhouse, container logging into our store,
volumes and environment honoured). The docker deploy target is tested in
tests/serving/test_serving_docker.py.

Needs a running Docker engine and the base image (scripts/docker-base-image.sh).
"""

from __future__ import annotations

import secrets

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.integration]


# ------------------------------------------------------------------ projects


def test_docker_project_run_logs_into_our_store(
    docker, cache_env, tmp_path, write_files, monkeypatch
):
    from mlcadence.projects import runner
    from mlcadence.tracking import Client

    suffix = secrets.token_hex(4)
    base_tag = f"mlcadence-test-base-{suffix}:1"
    data = tmp_path / "data"
    data.mkdir()
    (data / "numbers.txt").write_text("1\n2\n3\n")
    monkeypatch.setenv("MLCADENCE_TEST_FROM_HOST", "host-value")
    project = write_files(
        tmp_path / "proj",
        {
            "MLproject": f"""
            name: dockertest-{suffix}
            docker_env:
              image: {base_tag}
              volumes: ["{data}:/data:ro"]
              environment: [["EXPLICIT", "given"], "MLCADENCE_TEST_FROM_HOST"]
            entry_points:
              main:
                parameters:
                  scale: {{type: float, default: 2}}
                command: "python train.py --scale {{scale}}"
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
            # Only what `tracking` needs at run time; our own wheel is shipped in own/
            # (listing `mlcadence` here would pull all of its dependencies).
            "requirements.txt": "pyyaml\npydantic-settings\nfilelock\n",
            "train.py": """
            import argparse, os, mlcadence
            a = argparse.ArgumentParser(); a.add_argument("--scale", type=float)
            scale = a.parse_args().scale
            total = sum(int(x) for x in open("/data/numbers.txt"))
            mlcadence.log_metric("total_scaled", total * scale)
            mlcadence.log_param("explicit", os.environ["EXPLICIT"])
            mlcadence.log_param("copied", os.environ["MLCADENCE_TEST_FROM_HOST"])
            mlcadence.log_text("from the container", "note.txt")
            print("cwd", os.getcwd(), "uri", os.environ["MLFLOW_TRACKING_URI"])
        """,
        },
    )
    from mlcadence.containers.wheelhouse import own_wheel

    (project / "own").mkdir()
    import shutil

    shutil.copy(own_wheel(cache_env), project / "own")
    store = str(tmp_path / "mlruns")
    lines: list[str] = []
    try:
        result = runner.run(
            str(project), parameters={"scale": "1.5"}, tracking_uri=store, output=lines.append
        )
        text = "".join(lines)
        assert result.status == "FINISHED", text
        assert "cwd /mlflow/projects/code uri file:///mlflow/tmp/mlruns" in text
        client = Client(store)
        run = client.get_run(result.run_id)
        assert run.info.status.name == "FINISHED"
        assert run.data.metrics == {"total_scaled": 9.0}
        assert run.data.params["explicit"] == "given"
        assert run.data.params["copied"] == "host-value"
        assert run.data.params["scale"] == "1.5"
        assert run.data.tags["mlflow.project.env"] == "docker"
        assert run.data.tags["mlflow.docker.image.id"].startswith("sha256:")
        assert (
            client.artifact_path(result.run_id) / "note.txt"
        ).read_text() == "from the container"
        # The container is removed afterwards.
        assert not docker.containers.list(
            all=True, filters={"label": f"mlcadence.run_id={result.run_id}"}
        )

        # A failing entry point: the exit code becomes the run status.
        with pytest.raises(Exception) as info:
            runner.run(str(project), entry_point="missing.py", tracking_uri=store)
        assert "missing.py" in str(info.value)
        (project / "boom.py").write_text("import sys; sys.exit(4)\n")
        from mlcadence.projects.errors import ExecutionFailed

        with pytest.raises(ExecutionFailed) as failed:
            runner.run(
                str(project),
                entry_point="boom.py",
                tracking_uri=store,
                build_image=True,
                output=lambda s: None,
            )
        assert failed.value.exit_code == 4
        assert client.get_run(failed.value.run_id).info.status.name == "FAILED"
    finally:
        # The project images were built on the base image: remove them first, or
        # the engine refuses to delete a parent that still has children.
        for prefix in (f"dockertest-{suffix}:", base_tag):
            for image in docker.images.list():
                if any(t.startswith(prefix) for t in image.tags):
                    docker.images.remove(image.id, force=True)
