"""A process killed with SIGKILL in the middle of a write leaves the file store
readable by MLflow and by us: a version, a registered model, an experiment and
a run appear whole or not at all, and a half-saved model is never listed as
an artifact. Each test kills a real child process at the critical write."""

from __future__ import annotations

import logging
import os
import signal
import textwrap
from pathlib import Path

import pytest

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402

from mlcadence.tracking.backends.file import FileBackend  # noqa: E402

# The child kills itself (SIGKILL: no cleanup, no finally) when the store is
# about to write a meta.yaml whose text contains MARKER.
KILL_AT_META = textwrap.dedent(
    """
    import os, sys
    from mlcadence.tracking.backends import file as file_backend

    MARKER = sys.argv[1]
    real_replace = file_backend.FileBackend._replace

    def replace_or_die(self, path, data, tmp_dir=None):
        if path.endswith("meta.yaml") and MARKER in str(data):
            os.kill(os.getpid(), 9)
        return real_replace(self, path, data, tmp_dir)

    file_backend.FileBackend._replace = replace_or_die
    store = file_backend.FileBackend(sys.argv[2])
    """
)


@pytest.fixture(autouse=True)
def _isolated_mlflow(isolated_mlflow):
    yield


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "mlruns"


def mlflow_client(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=root.as_uri(), registry_uri=root.as_uri())


def killed(run_python, marker: str, root: Path, action: str) -> None:
    proc = run_python(KILL_AT_META + action, marker, str(root))
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def malformed_reports(caplog) -> list[str]:
    """MLflow's complaints about half-made entries (a warning with a traceback
    for experiments, a debug record with one for runs)."""
    return [r.getMessage() for r in caplog.records if "Malformed" in r.getMessage()]


def test_kill9_while_registering_a_version_leaves_mlflow_registry_readable(
    root, run_python, caplog
):
    ours = FileBackend(str(root))
    ours.create_model_version("good", "/tmp/good-model")
    ours.create_registered_model("crashy")
    killed(run_python, "current_stage", root, "store.create_model_version('crashy', '/tmp/m')")

    client = mlflow_client(root)
    assert [mv.name for mv in client.search_model_versions()] == ["good"]
    assert client.get_registered_model("good").name == "good"
    assert sorted(m.name for m in client.search_registered_models()) == ["crashy", "good"]
    assert client.search_model_versions("name='crashy'") == []
    # Ours too, and the next registration still gets version 1.
    assert [mv.name for mv in ours.search_model_versions()] == ["good"]
    assert ours.create_model_version("crashy", "/tmp/m").version == 1
    assert client.get_model_version("crashy", "1").source == "/tmp/m"


def test_kill9_while_creating_a_registered_model_leaves_the_name_free(root, run_python):
    ours = FileBackend(str(root))
    ours.create_registered_model("good")
    killed(run_python, "deployment_job_id", root, "store.create_registered_model('crashy')")

    client = mlflow_client(root)
    assert [m.name for m in client.search_registered_models()] == ["good"]
    assert [m.name for m in ours.list_registered_models()] == ["good"]
    # Not "already exists" on create and "not found" on get: simply free.
    assert ours.create_registered_model("crashy").name == "crashy"
    assert client.get_registered_model("crashy").name == "crashy"


def test_kill9_while_creating_an_experiment_leaves_no_half_experiment(root, run_python, caplog):
    ours = FileBackend(str(root))
    ours.create_experiment("good")
    killed(run_python, "crashy", root, "store.create_experiment('crashy')")

    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        names = [e.name for e in mlflow_client(root).search_experiments(ViewType.ALL)]
    assert sorted(names) == ["Default", "good"]
    assert malformed_reports(caplog) == []
    assert ours.get_experiment_by_name("crashy") is None
    assert ours.create_experiment("crashy")


def test_kill9_while_creating_a_run_leaves_no_half_run(root, run_python, caplog):
    ours = FileBackend(str(root))
    exp_id = ours.create_experiment("exp")
    good = ours.create_run(exp_id, "u", 1, "good", []).info.run_id
    killed(run_python, "lifecycle_stage", root, f"store.create_run({exp_id!r}, 'u', 2, 'x', [])")

    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        runs = mlflow_client(root).search_runs([exp_id], run_view_type=ViewType.ALL)
    assert [r.info.run_id for r in runs] == [good]
    assert malformed_reports(caplog) == []
    assert [r.info.run_id for r in ours.search_runs([exp_id])] == [good]


def test_kill9_while_logging_a_model_leaves_nothing_in_the_artifact_listing(
    root, run_python, monkeypatch
):
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", str(root))
    ours = FileBackend(str(root))
    exp_id = ours.create_experiment("exp")
    run_id = ours.create_run(exp_id, "u", 1, "r", []).info.run_id
    code = textwrap.dedent(
        f"""
        import os
        from sklearn.linear_model import LinearRegression
        from mlcadence.tracking.models import integrity, log_model

        def die(model_dir):
            os.kill(os.getpid(), 9)

        integrity.write_manifest = die  # the last step before the rename
        log_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), "model", run_id={run_id!r})
        """
    )
    proc = run_python(code, MLCADENCE_TRACKING_URI=str(root))
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    assert mlflow_client(root).list_artifacts(run_id) == []
    artifacts = root / exp_id / run_id / "artifacts"
    assert list(artifacts.iterdir()) == []


def test_staged_entries_keep_the_usual_directory_permissions(root):
    ours = FileBackend(str(root))
    exp_id = ours.create_experiment("e")
    run_id = ours.create_run(exp_id, "u", 1, "r", []).info.run_id
    ours.create_model_version("m", "/tmp/m")
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o777 & ~umask
    for entry in (root / exp_id, root / exp_id / run_id, root / "models" / "m" / "version-1"):
        assert entry.stat().st_mode & 0o777 == expected, entry
    assert (root / "models" / "m").stat().st_mode & 0o777 == expected
