"""The file store's read cache (tracking.backends.file_read_cache) never
serves a stale value: whatever another writer changes, the next search sees,
and a cached search returns what MLflow's own FileStore finds on the same store."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow.entities import Metric as MlflowMetric  # noqa: E402
from mlflow.entities import RunTag as MlflowRunTag  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402
from mlflow.store.tracking.file_store import FileStore  # noqa: E402

from mlcadence.tracking.backends.file import FileBackend  # noqa: E402
from mlcadence.tracking.entities import Metric, Param, RunTag  # noqa: E402

T0 = 1_700_000_000_000
HOUR_NS = 3600 * 10**9


@pytest.fixture(autouse=True)
def _isolated_mlflow(isolated_mlflow):
    yield


def age_store(root: Path) -> None:
    """Date every file an hour back, as in a store written earlier: the cache
    keeps only values whose files are older than its racy-write margin."""
    past = time.time_ns() - HOUR_NS
    for folder, _dirs, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(folder, name), ns=(past, past))


def ids(runs) -> list[str]:
    return [r.info.run_id for r in runs]


def test_search_sees_what_another_process_changed_in_a_cached_store(tmp_path, run_python):
    root = tmp_path / "mlruns"
    store = FileBackend(str(root))
    exp_id = store.create_experiment("cached")
    run_ids = []
    for i in range(3):
        run = store.create_run(exp_id, "u", T0 + i, f"r{i}", [RunTag("team", "a")])
        store.log_batch(run.info.run_id, metrics=[Metric("m", 0.1 * i, T0, 0)])
        run_ids.append(run.info.run_id)
    age_store(root)
    filter_string = "tags.team = 'a' and metrics.m >= 0"
    assert ids(store.search_runs([exp_id], filter_string)) == run_ids[::-1]
    assert len(store._files) >= 9, "the aged store's meta, tags and metrics are cached"

    # MLflow's own writer: tags and meta.yaml rewritten in place, same sizes.
    changed = run_python(
        "import sys\n"
        "from mlflow.store.tracking.file_store import FileStore\n"
        "from mlflow.entities import Metric, RunTag\n"
        "store = FileStore(sys.argv[1])\n"
        "r0, r1, r2 = sys.argv[3:6]\n"
        "store.log_metric(r0, Metric('m', 0.9, 1, 1))\n"
        "store.set_tag(r1, RunTag('team', 'b'))\n"
        "store.delete_run(r2)\n"
        "new = store.create_run(sys.argv[2], 'u', 1, [RunTag('team', 'a')], 'new')\n"
        "store.log_metric(new.info.run_id, Metric('m', 0.5, 1, 0))\n"
        "print(new.info.run_id)\n",
        str(root),
        exp_id,
        *run_ids,
        MLFLOW_ALLOW_FILE_STORE="true",
    )
    assert changed.returncode == 0, changed.stderr
    new_id = changed.stdout.split()[-1]

    found = store.search_runs([exp_id], filter_string, order_by=["metrics.m DESC"])
    assert ids(found) == [run_ids[0], new_id]
    assert found[0].data.metrics["m"] == 0.9
    assert ids(store.search_runs([exp_id], "tags.team = 'b'")) == [run_ids[1]]
    assert ids(store.search_runs([exp_id], "", view="deleted")) == [run_ids[2]]


def test_a_same_size_rewrite_within_the_timestamp_tick_is_never_served_stale(tmp_path):
    root = tmp_path / "mlruns"
    store = FileBackend(str(root))
    exp_id = store.create_experiment("racy")
    run_id = store.create_run(exp_id, "u", T0, "r", [RunTag("stage", "dev")]).info.run_id
    tag_file = root / exp_id / run_id / "tags" / "stage"
    assert ids(store.search_runs([exp_id], "tags.stage = 'dev'")) == [run_id]
    # In place, same size, same inode, and the mtime the file had when read:
    # what a second write in one coarse timestamp tick leaves behind.
    before = tag_file.stat()
    with open(tag_file, "r+") as handle:
        handle.write("prd")
    os.utime(tag_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = tag_file.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    assert ids(store.search_runs([exp_id], "tags.stage = 'prd'")) == [run_id]
    assert store.search_runs([exp_id], "tags.stage = 'dev'") == []


FILTERS = [
    "",
    "metrics.loss < 0.5",
    "metrics.acc >= 0.3 and params.model = 'rf'",
    "params.model != 'svm'",
    "params.depth = '4' and tags.stage != 'dev'",
    "tags.stage LIKE 'pr%'",
    "tags.stage ILIKE 'DEV'",
    "attributes.status = 'FINISHED' and metrics.loss > 0.2",
    "attributes.run_name LIKE 'r1%'",
    "attributes.start_time > 1700000000010",
]
ORDERS = [
    [],
    ["metrics.loss"],
    ["metrics.acc DESC", "params.model"],
    ["params.depth DESC"],
    ["tags.stage"],
    ["attributes.run_name"],
    ["attributes.end_time DESC"],
]
VIEWS = [
    ("active", ViewType.ACTIVE_ONLY),
    ("deleted", ViewType.DELETED_ONLY),
    ("all", ViewType.ALL),
]


def random_store(root: Path, rng: random.Random) -> tuple[FileBackend, str, list[str]]:
    store = FileBackend(str(root))
    exp_id = store.create_experiment("random")
    run_ids = []
    for i in range(25):
        tags = [RunTag("stage", rng.choice(["dev", "prod", "DEV"]))] if rng.random() < 0.8 else []
        run = store.create_run(exp_id, "u", T0 + i, f"r{i}", tags)
        run_id = run.info.run_id
        metrics = [
            Metric(key, round(rng.random(), 3), T0 + step, step)
            for key in ("loss", "acc")
            if rng.random() < 0.85
            for step in range(rng.randint(1, 4))
        ]
        params = [
            Param(k, rng.choice(v))
            for k, v in (("model", ["rf", "svm"]), ("depth", ["2", "4", "8"]))
            if rng.random() < 0.85
        ]
        store.log_batch(run_id, metrics=metrics, params=params)
        if rng.random() < 0.6:
            store.update_run(run_id, "FINISHED", T0 + 100 + rng.randint(0, 50))
        if rng.random() < 0.15:
            store.delete_run(run_id)
        run_ids.append(run_id)
    return store, exp_id, run_ids


def mutate_with_mlflow(theirs: FileStore, exp_id: str, run_ids: list[str], rng: random.Random):
    for run_id in rng.sample(run_ids, 8):
        action = rng.choice(["metric", "tag", "delete", "finish"])
        if theirs.get_run(run_id).info.lifecycle_stage == "deleted":
            theirs.restore_run(run_id)  # MLflow writes only to active runs
        elif action == "metric":
            key = rng.choice(["loss", "acc"])
            theirs.log_metric(run_id, MlflowMetric(key, round(rng.random(), 3), T0 + 9, 9))
        elif action == "tag":
            theirs.set_tag(run_id, MlflowRunTag("stage", rng.choice(["dev", "prod", "pre"])))
        elif action == "delete":
            theirs.delete_run(run_id)
        else:
            theirs.update_run_info(run_id, "FINISHED", T0 + 500, None)
    for i in range(3):
        theirs.create_run(exp_id, "u", T0 + 50 + i, [RunTag("stage", "prod")], f"r1new{i}")


def assert_same_as_mlflow(stores: list[FileBackend], theirs: FileStore, exp_id: str) -> int:
    compared = 0
    for filter_string in FILTERS:
        for order_by in ORDERS:
            for view, view_type in VIEWS:
                expected = theirs.search_runs([exp_id], filter_string, view_type, 1000, order_by)
                where = f"{filter_string!r} {order_by} {view}"
                for ours in stores:
                    found = ours.search_runs([exp_id], filter_string, view, 1000, order_by)
                    assert ids(found) == ids(expected), where
                    for mine, their_run in zip(found, expected, strict=True):
                        assert mine.data.metrics == their_run.data.metrics, where
                        assert mine.data.params == their_run.data.params, where
                        assert mine.data.tags == their_run.data.tags, where
                        assert mine.info.status.name == their_run.info.status, where
                    compared += 1
    return compared


@pytest.mark.parametrize("seed", range(3))
def test_cached_search_equals_mlflows_file_store_before_and_after_mlflow_writes(tmp_path, seed):
    rng = random.Random(seed)
    root = tmp_path / "mlruns"
    ours, exp_id, run_ids = random_store(root, rng)
    age_store(root)
    theirs = FileStore(str(root))
    assert assert_same_as_mlflow([ours], theirs, exp_id) == len(FILTERS) * len(ORDERS) * len(VIEWS)
    assert len(ours._files) > len(run_ids), "the searches above filled the cache"
    mutate_with_mlflow(theirs, exp_id, run_ids, rng)
    # The warm cache and a fresh backend (nothing cached) both agree with MLflow.
    assert_same_as_mlflow([ours, FileBackend(str(root))], theirs, exp_id)
