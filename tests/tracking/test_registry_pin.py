"""The digest pinned on a model version at registration cannot be edited
through the API: otherwise a rewritten model directory plus a re-pinned tag
would load through `models:/` as if it were what was registered."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from mlcadence.tracking import Client
from mlcadence.tracking.errors import InvalidInput, ModelIntegrityError
from mlcadence.tracking.models import load_model, log_model, save_model
from mlcadence.tracking.models.integrity import MANIFEST_FILE, sha256_file
from mlcadence.tracking.registry import MANIFEST_DIGEST_TAG


@pytest.fixture
def registered(backend_uri):
    """A store (every backend kind) with model `m` version 1 logged and registered."""
    client = Client(backend_uri)
    run = client.create_run(client.create_experiment("pins"))
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    info = log_model(
        LinearRegression().fit(X, [1.0, 2.0, 3.0, 4.0]),
        "model",
        input_example=X.head(2),
        run_id=run.info.run_id,
        client=client,
        registered_model_name="m",
    )
    return client, info, X


def test_the_digest_pin_cannot_be_set_or_deleted(registered):
    client, _, _ = registered
    pinned = client.get_model_version("m", 1).tags[MANIFEST_DIGEST_TAG]
    with pytest.raises(InvalidInput, match="new version"):
        client.set_model_version_tag("m", 1, MANIFEST_DIGEST_TAG, "0" * 64)
    with pytest.raises(InvalidInput, match="cannot be set or deleted"):
        client.delete_model_version_tag("m", 1, MANIFEST_DIGEST_TAG)
    assert client.get_model_version("m", 1).tags[MANIFEST_DIGEST_TAG] == pinned
    client.set_model_version_tag("m", 1, "team", "a")  # other tags stay editable
    client.delete_model_version_tag("m", 1, "team")


def test_a_rewritten_model_cannot_be_re_pinned_to_load(registered, tmp_path):
    client, info, X = registered
    other = tmp_path / "other"
    save_model(LinearRegression().fit(X, [9.0, 9.0, 9.0, 9.0]), other, input_example=X.head(2))
    shutil.rmtree(info.local_path)
    shutil.copytree(other, info.local_path)
    forged = sha256_file(info.local_path / MANIFEST_FILE)
    with pytest.raises(InvalidInput):
        client.set_model_version_tag("m", 1, MANIFEST_DIGEST_TAG, forged)
    with pytest.raises(ModelIntegrityError):
        load_model("models:/m/1", client)
