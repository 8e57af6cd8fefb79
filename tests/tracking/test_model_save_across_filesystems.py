"""A model staged on one file system and saved to another, as inside a
`docker_env` project run, where the run's artifact directory is a bind mount
of its own and the staging directory beside it is not."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from mlcadence.tracking.models import load_model, save_model


def test_a_model_staged_on_another_file_system_is_copied_then_renamed(tmp_path):
    staging = Path(tempfile.mkdtemp(prefix="mlcadence-staging-", dir="/dev/shm"))
    try:
        assert os.stat(staging).st_dev != os.stat(tmp_path).st_dev  # two file systems
        X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
        fitted = LogisticRegression().fit(X, [0, 1, 1, 0])
        target = tmp_path / "artifacts" / "model"
        save_model(fitted, str(target), input_example=X[:2], staging_dir=str(staging))
        assert load_model(str(target)).predict(X).tolist() == fitted.predict(X).tolist()
        assert list(staging.iterdir()) == []  # nothing left where it was staged
        assert [p.name for p in target.parent.iterdir()] == ["model"]  # nor beside it
    finally:
        shutil.rmtree(staging, ignore_errors=True)
