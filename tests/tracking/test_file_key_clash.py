"""In the file store a key is a file and each '/' a folder, so 'q' and
'q/sub' cannot both be stored: the second one gets a clear InvalidInput (not
a raw NotADirectoryError) and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcadence.tracking import Client
from mlcadence.tracking.entities import Metric, Param
from mlcadence.tracking.errors import InvalidInput


@pytest.fixture
def run(tmp_path):
    client = Client(str(tmp_path / "mlruns"))
    return client, client.create_run(client.create_experiment("keys")).info.run_id


@pytest.mark.parametrize("first, second", [("q", "q/sub"), ("q/sub", "q")])
@pytest.mark.parametrize("log", ["param", "metric", "tag", "batch"])
def test_a_key_and_a_key_below_it_clash_with_a_clear_message(run, tmp_path, log, first, second):
    client, run_id = run
    write = {
        "param": lambda key: client.log_param(run_id, key, "v"),
        "metric": lambda key: client.log_metric(run_id, key, 1.0),
        "tag": lambda key: client.set_tag(run_id, key, "v"),
        "batch": lambda key: client.log_batch(
            run_id, metrics=[Metric(key, 1.0, 0, 0)], params=[Param(key + "_p", "v")]
        ),
    }[log]
    write(first)
    with pytest.raises(InvalidInput, match="clashes with another"):
        write(second)
    assert not [p for p in Path(tmp_path).rglob(".tmp-*")]
