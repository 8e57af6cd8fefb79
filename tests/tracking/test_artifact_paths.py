"""Writing an artifact onto a directory of artifacts, or below an artifact
file, is a clear InvalidInput (not a raw OS error), and leaves no temporary
file behind."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlcadence
from mlcadence.tracking.errors import InvalidInput


@pytest.mark.parametrize(
    "path, message", [("d", "is a directory of artifacts"), ("d/a.txt/b.txt", "inside an existing")]
)
def test_an_artifact_cannot_replace_a_directory_or_go_inside_a_file(tmp_path, path, message):
    mlcadence.set_tracking_uri(str(tmp_path / "mlruns"))
    with mlcadence.start_run():
        mlcadence.log_text("first", "d/a.txt")
        with pytest.raises(InvalidInput, match=message):
            mlcadence.log_text("second", path)
    assert not [p for p in Path(tmp_path).rglob(".artifact.uploading.*")]
