"""`mlcadence store check [--repair]` on the states a kill -9 leaves: the
entries a killed child abandoned, and the half-made entries older versions
(or MLflow itself) leave in a file store. After --repair MLflow's client and
our CLI read the store cleanly, and nothing complete was moved."""

from __future__ import annotations

import os
import signal
import textwrap
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402

from mlcadence import tracking  # noqa: E402
from mlcadence.cli import app  # noqa: E402
from mlcadence.tracking.backends import clear_cache  # noqa: E402
from mlcadence.tracking.models import log_model  # noqa: E402

runner = CliRunner()

KILL_WHILE_REGISTERING = textwrap.dedent(
    """
    import os, sys
    from mlcadence.tracking.backends import file as file_backend

    real_replace = file_backend.FileBackend._replace

    def replace_or_die(self, path, data, tmp_dir=None):
        if path.endswith("meta.yaml") and "current_stage" in str(data):
            os.kill(os.getpid(), 9)
        return real_replace(self, path, data, tmp_dir)

    file_backend.FileBackend._replace = replace_or_die
    file_backend.FileBackend(sys.argv[1]).create_model_version("good", "/nowhere")
    """
)

KILL_WHILE_LOGGING_A_MODEL = textwrap.dedent(
    """
    import os, sys
    from sklearn.linear_model import LinearRegression
    from mlcadence.tracking.models import integrity, log_model

    def die(model_dir):
        os.kill(os.getpid(), 9)

    integrity.write_manifest = die
    log_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), "half", run_id=sys.argv[1])
    """
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", str(tmp_path / "mlruns"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield
    clear_cache()


def store_cli(*args: str):
    clear_cache()
    return runner.invoke(app, ["store", *args], catch_exceptions=False)


def cli_ok(*args: str) -> str:
    clear_cache()
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def mlflow_client(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=root.as_uri(), registry_uri=root.as_uri())


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def good_store(tmp_path):
    """A complete store: an experiment, a run with a logged and registered
    model, an alias."""
    root = tmp_path / "mlruns"
    client = tracking.Client(str(root))
    exp_id = client.create_experiment("good")
    run_id = client.create_run(exp_id, run_name="train").info.run_id
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    log_model(model, "model", run_id=run_id, client=client, registered_model_name="good")
    client.set_registered_model_alias("good", "champion", 1)
    return root, client, exp_id, run_id


def test_store_check_of_a_complete_store_finds_nothing(good_store):
    root = good_store[0]
    result = store_cli("check", "-t", str(root))
    assert result.exit_code == 0, result.output
    assert result.output == f"store {root}: no problems found\n"


def test_store_check_repair_cleans_up_after_kill9_and_older_half_writes(good_store, run_python):
    root, client, exp_id, run_id = good_store
    complete = snapshot(root)
    run_dir = root / exp_id / run_id

    # What a kill -9 leaves today: a staged version and a staged model save.
    proc = run_python(KILL_WHILE_REGISTERING, str(root))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    proc = run_python(KILL_WHILE_LOGGING_A_MODEL, run_id, MLCADENCE_TRACKING_URI=str(root))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # What the same kills left before entries were staged (and MLflow's own
    # crashes still leave): entries without meta.yaml, a save in the artifacts.
    (root / "models" / "good" / "version-2" / "tags").mkdir(parents=True)
    (root / "models" / "good" / "version-2" / "tags" / "k").write_text("v")
    (root / "models" / "crashy" / "tags").mkdir(parents=True)
    (root / "123456789012345678" / "tags").mkdir(parents=True)
    half_run = root / exp_id / ("f" * 32)
    for sub in ("metrics", "params", "artifacts", "tags"):
        (half_run / sub).mkdir(parents=True)
    (run_dir / "artifacts" / ".mlc-tmp-model-abc").mkdir()
    (run_dir / "artifacts" / ".mlc-tmp-model-abc" / "model.pkl").write_bytes(b"half")

    with pytest.raises(Exception, match="meta.yaml"):
        mlflow_client(root).search_model_versions()

    result = store_cli("check", "-t", str(root))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    expected = {
        "half-written model version: models/good/version-2: no meta.yaml",
        "half-written registered model: models/crashy: no meta.yaml",
        "half-written experiment: 123456789012345678: no meta.yaml",
        f"half-written run: {exp_id}/{'f' * 32}: no meta.yaml",
        f"orphan directory: {exp_id}/{run_id}/artifacts/.mlc-tmp-model-abc: a model",
        f"orphan directory: {exp_id}/{run_id}/.mlc-tmp-half-",
        "orphan directory: .mlc-staging.trash/.tmp-",
    }
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, result.output)
    assert len(lines) == len(expected) + 1
    assert lines[-1] == f"store {root}: 7 problem(s), 7 can be moved away with --repair"

    result = store_cli("check", "--repair", "-t", str(root))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "repaired 7 problem(s); 0 left to fix by hand"
    assert sum(line.startswith("moved: ") for line in result.output.splitlines()) == 7

    # Both readers now read the store cleanly, and everything complete is where it was.
    again = store_cli("check", "-t", str(root))
    assert again.exit_code == 0, again.output
    mlflow = mlflow_client(root)
    assert [(mv.name, int(mv.version)) for mv in mlflow.search_model_versions()] == [("good", 1)]
    assert [m.name for m in mlflow.search_registered_models()] == ["good"]
    assert {a: int(v) for a, v in mlflow.get_registered_model("good").aliases.items()} == {
        "champion": 1
    }
    assert sorted(e.name for e in mlflow.search_experiments(ViewType.ALL)) == ["Default", "good"]
    assert [r.info.run_id for r in mlflow.search_runs([exp_id])] == [run_id]
    assert [a.path for a in mlflow.list_artifacts(run_id)] == ["model"]
    assert run_id in cli_ok("runs", "list", "-t", str(root))
    assert "good" in cli_ok("models", "list", "-t", str(root))
    after = snapshot(root)
    assert {k: v for k, v in after.items() if k in complete} == complete
    moved = [k for k in after if k not in complete]
    assert all(k.startswith(".mlc-repaired.trash/") for k in moved), moved


def test_store_check_reports_changed_models_and_a_missing_source_but_moves_nothing(
    good_store,
):
    root, client, exp_id, run_id = good_store
    model_file = next((root / exp_id / run_id / "artifacts" / "model").glob("model.*"))
    model_file.write_bytes(model_file.read_bytes() + b"tampered")
    client.create_model_version("gone", str(root / "no-such-model"))
    before = snapshot(root)

    result = store_cli("check", "--repair", "-t", str(root))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("model version: gone/1: its source ")
    assert "does not exist" in lines[0]
    # The registered version's pinned manifest and the logged model itself.
    assert lines[1].startswith("model version: good/1: ")
    assert "failed its integrity check" in lines[1]
    assert lines[2].startswith(f"logged model: {exp_id}/{run_id}/artifacts/model: ")
    assert "failed its integrity check" in lines[2]
    assert lines[3] == f"store {root}: 3 problem(s), 0 can be moved away with --repair"
    assert lines[4].startswith("nothing to repair: none of the problems is a half-written entry")
    assert lines[5] == "repaired 0 problem(s); 3 left to fix by hand"
    assert snapshot(root) == before


def test_store_check_on_a_sql_store_says_nothing_to_repair(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = tracking.Client(uri)
    client.create_model_version("gone", str(tmp_path / "no-such-model"))
    result = store_cli("check", "--repair", "-t", uri)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("model version: gone/1: its source ")
    assert lines[-2] == (
        "nothing to repair: this store writes each entry in one transaction, so nothing is "
        "half-written; fix the problems above by hand"
    )


def test_store_check_on_a_clean_sql_store_finds_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = tracking.Client(uri)
    exp_id = client.create_experiment("e")
    client.create_run(exp_id, run_name="r")
    result = store_cli("check", "-t", uri)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("no problems found\n")


def test_store_check_moves_a_killed_model_save_out_of_a_sql_store_run(tmp_path, run_python):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = tracking.Client(uri)
    run = client.create_run(client.create_experiment("e"), run_name="r")
    proc = run_python(KILL_WHILE_LOGGING_A_MODEL, run.info.run_id, MLCADENCE_TRACKING_URI=uri)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    artifacts = client.artifact_path(run.info.run_id)
    (staged,) = [p for p in artifacts.parent.iterdir() if p.name.startswith(".mlc-tmp-half-")]

    result = store_cli("check", "--repair", "-t", uri)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"orphan directory: {staged}: a model or artifact whose save")
    assert lines[2].startswith(f"moved: {staged} -> {artifacts.parent / '.mlc-repaired.trash'}")
    assert not staged.exists()
    assert store_cli("check", "-t", uri).exit_code == 0
