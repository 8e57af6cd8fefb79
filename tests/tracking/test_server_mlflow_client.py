"""The real mlflow client, unchanged, against `mlcadence server` on every
backend: it runs in a subprocess whose cwd is far from the store and whose
only way in is MLFLOW_TRACKING_URI=http://..."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlcadence.tracking import Client

SESSION = Path(__file__).with_name("server_scripts") / "mlflow_client_session.py"

pytestmark = pytest.mark.integration


def _mlflow_session(url: str, cwd: Path, **env) -> dict:
    import os

    cwd.mkdir()
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLCADENCE_"))}
    variables.update(MLFLOW_TRACKING_URI=url, **env)
    done = subprocess.run(
        [sys.executable, str(SESSION)],
        cwd=cwd,
        env=variables,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_mlflow_client_works_unchanged_against_the_server(
    tracking_server,
    backend_uri,
    tmp_path,
):
    server = tracking_server(backend_uri)
    seen = _mlflow_session(server.url, tmp_path / "elsewhere")

    # artifacts went through the server into its destination, not the client's disk
    assert seen["artifact_uri"].startswith("mlflow-artifacts:/")
    assert ["docs", True] in seen["listed"]
    assert seen["listed_docs"] == [["docs/notes.txt", len("hello artifacts")]]
    assert seen["downloaded"] == "hello artifacts"
    assert list(server.artifacts.rglob("notes.txt"))
    assert not list((tmp_path / "elsewhere").rglob("mlruns"))

    assert seen["history"] == [[s, 1.0 / (s + 1) + 1] for s in range(4)]
    assert seen["run2"] == {
        "params": {"a": "2", "kind": "lin"},
        "metrics": {"loss": 0.25 + 2},
        "tag": "v2",
    }
    assert seen["predicted"] == pytest.approx(seen["expected"])
    assert seen["logged_model_status"].endswith("READY")

    ours = Client(backend_uri)
    exp = ours.get_experiment_by_name("session")
    direct = ours.search_runs(exp.experiment_id, "metrics.loss > 1.1", order_by=["params.a DESC"])
    assert seen["search"] == [r.run_id for r in direct] == seen["run_ids"][::-1][:2]

    assert seen["renamed"] and seen["exp_tag"] == "v"
    assert (seen["deleted_stage"], seen["restored_stage"]) == ("deleted", "active")
    assert seen["experiments"] == ["Default", "scratch2", "session"]

    reg = seen["registry"]
    assert reg["description"] == "second"
    assert reg["tags"] == {"stage": "dev"}
    assert reg["aliases"] == {"challenger": "1"}
    assert reg["version_tags"] == {"ok": "yes"}
    assert reg["stage"] == "Staging" and reg["by_alias"] == "1"
    assert reg["search"] == ["x", "z"] and reg["versions"] == ["1"]
    assert seen["after_delete"] == ["x"]
    assert seen["deleted_run"] == "deleted"

    # what the client registered is in the store, for our own client too
    version = ours.get_model_version_by_alias("x", "champion")
    assert version.version == 1
