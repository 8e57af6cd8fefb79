"""A model without a digest manifest (e.g. one MLflow saved) is served or
scored only on the explicit `allow_unverified` opt-in, through the server's
loader and `mlcadence predict` alike."""

from __future__ import annotations

import json
import shutil

import pytest

from mlcadence.serving.errors import ModelLoadError, ServingError
from mlcadence.serving.model import load
from mlcadence.serving.scoring import score_bytes
from mlcadence.tracking.models.integrity import MANIFEST_FILE
from tests.serving.flagship import BOOK_ROW, FEATURES


@pytest.fixture
def unverified_model(stock_model, tmp_path):
    copy = tmp_path / "no-manifest"
    shutil.copytree(stock_model, copy)
    (copy / MANIFEST_FILE).unlink()
    return copy


def test_server_loader_refuses_a_model_without_manifest(unverified_model):
    with pytest.raises(ModelLoadError, match="allow-unverified|allow_unverified"):
        load(str(unverified_model))


def test_server_loader_serves_it_on_the_opt_in(unverified_model, stock_model):
    body = json.dumps({"dataframe_split": {"columns": FEATURES, "data": [BOOK_ROW]}}).encode()
    verified = score_bytes(load(str(stock_model)), body, "application/json")
    unverified = score_bytes(
        load(str(unverified_model), allow_unverified=True), body, "application/json"
    )
    assert json.loads(unverified) == json.loads(verified)


def test_predict_command_needs_the_flag_for_an_unverified_model(
    unverified_model, tmp_path, run_python
):
    request = tmp_path / "row.json"
    request.write_text(json.dumps({"dataframe_split": {"columns": FEATURES, "data": [BOOK_ROW]}}))
    cli = "from mlcadence.cli import main; main()"
    args = ("predict", "-m", str(unverified_model), "-i", str(request))
    refused = run_python(cli, *args)
    assert refused.returncode == ServingError.cli_exit_code
    assert refused.stderr.startswith("error: ") and "--allow-unverified" in refused.stderr
    allowed = run_python(cli, *args, "--allow-unverified")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["predictions"][0] in (0, 1)
