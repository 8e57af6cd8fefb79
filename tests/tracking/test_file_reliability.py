"""Several threads and several processes writing one file store at once:
nothing lost, nothing torn, write-once params and version numbers hold."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import pytest
import yaml

from mlcadence.tracking.backends.file import FileBackend
from mlcadence.tracking.entities import Metric, Param, RunTag
from mlcadence.tracking.errors import InvalidInput

PROCESSES = 4
THREADS = 2
METRICS_PER_THREAD = 1000

# Spawned children start clean (no inherited locks or caches), like separate
# programs sharing one mlruns directory.
ctx = multiprocessing.get_context("spawn")


def _value(proc: int, thread: int, i: int) -> float:
    return float(proc * 1_000_000 + thread * 10_000 + i)


def _log_worker(uri, experiment_id, shared_run_id, proc, barrier, queue):
    try:
        store = FileBackend(uri)
        own = store.create_run(experiment_id, f"proc{proc}", proc, f"own-{proc}", [])
        barrier.wait(timeout=120)
        errors = []

        def work(thread):
            try:
                for run_id in (own.info.run_id, shared_run_id):
                    values = [_value(proc, thread, i) for i in range(METRICS_PER_THREAD)]
                    if thread == 0:  # one call per value
                        for i, v in enumerate(values):
                            store.log_metric(run_id, Metric("m", v, 1000 + i, i))
                    else:  # batches
                        for start in range(0, len(values), 50):
                            chunk = values[start : start + 50]
                            store.log_batch(
                                run_id,
                                metrics=[Metric("m", v, 1, start + j) for j, v in enumerate(chunk)],
                            )
                    store.log_param(run_id, Param(f"p{proc}-{thread}", str(thread)))
                    for i in range(20):
                        # Same key from everyone: last writer wins, never torn.
                        store.set_tag(run_id, RunTag("common", f"{proc}-{thread}-{i}" * 50))
                        store.set_tag(run_id, RunTag(f"t{proc}-{thread}-{i}", "x"))
                    # Meta rewrites race too (run name lives in meta and tag).
                    store.set_tag(run_id, RunTag("mlflow.runName", f"name-{proc}-{thread}"))
            except Exception as exc:  # reported to the parent
                errors.append(repr(exc))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        queue.put((proc, own.info.run_id, errors))
    except Exception as exc:
        queue.put((proc, None, [repr(exc)]))


def _run_processes(target, args_for, count):
    queue = ctx.Queue()
    barrier = ctx.Barrier(count)
    procs = [ctx.Process(target=target, args=(*args_for(i), barrier, queue)) for i in range(count)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


def _strict_metric_values(path: Path) -> list[float]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n"), f"{path} ends with a partial line"
    values = []
    for line in text.splitlines():
        ts, value, step = line.split(" ")  # exactly three fields, no interleaving
        int(ts), int(step)
        values.append(float(value))
    return values


@pytest.mark.timeout(300)
def test_processes_and_threads_log_into_one_experiment(tmp_path):
    uri = str(tmp_path / "mlruns")
    store = FileBackend(uri)
    exp_id = store.create_experiment("shared")
    shared = store.create_run(exp_id, "parent", 0, "shared", []).info.run_id

    stop = threading.Event()
    reader_errors = []

    def read_while_writing():
        reader = FileBackend(uri)
        while not stop.is_set():
            try:
                reader.get_run(shared)
                reader.search_runs([exp_id], "metrics.m >= 0", order_by=["metrics.m DESC"])
                reader.get_metric_history(shared, "m")
            except Exception as exc:
                reader_errors.append(repr(exc))

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    try:
        results = _run_processes(_log_worker, lambda i: (uri, exp_id, shared, i), PROCESSES)
    finally:
        stop.set()
        reader.join()

    assert [errors for _, _, errors in results] == [[]] * PROCESSES
    assert reader_errors == []

    expected_all = set()
    for proc, run_id, _ in results:
        own_expected = {
            _value(proc, t, i) for t in range(THREADS) for i in range(METRICS_PER_THREAD)
        }
        history = [m.value for m in store.get_metric_history(run_id, "m")]
        assert len(history) == len(own_expected) and set(history) == own_expected
        expected_all |= own_expected
    shared_history = [m.value for m in store.get_metric_history(shared, "m")]
    assert len(shared_history) == PROCESSES * THREADS * METRICS_PER_THREAD
    assert set(shared_history) == expected_all

    # Every file on disk parses strictly.
    root = Path(uri)
    for meta in root.rglob("meta.yaml"):
        assert isinstance(yaml.safe_load(meta.read_text(encoding="utf-8")), dict), meta
    for metric_file in root.rglob("metrics/*"):
        _strict_metric_values(metric_file)
    assert not list(root.rglob(".tmp-*"))

    run = store.get_run(shared)
    assert {f"p{p}-{t}" for p in range(PROCESSES) for t in range(THREADS)} <= set(run.data.params)
    common = run.data.tags["common"]
    assert any(common == f"{p}-{t}-19" * 50 for p in range(PROCESSES) for t in range(THREADS))
    assert run.info.run_name == run.data.tags["mlflow.runName"]
    assert run.info.run_name.startswith("name-")
    tag_keys = {k for k in run.data.tags if k.startswith("t")}
    assert len(tag_keys) == PROCESSES * THREADS * 20


# -- model versions -----------------------------------------------------------------
def _register_worker(uri, name, count, barrier, queue):
    try:
        store = FileBackend(uri)
        barrier.wait(timeout=120)
        got, errors = [], []

        def register():
            try:
                got.append(store.create_model_version(name, "/tmp/model").version)
            except Exception as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=register) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        queue.put((got, errors))
    except Exception as exc:
        queue.put(([], [repr(exc)]))


def test_sixteen_threads_register_versions_one_to_sixteen(tmp_path, race):
    store = FileBackend(str(tmp_path / "mlruns"))
    got, errors = race(lambda _: store.create_model_version("m", "/tmp/model").version, 16)
    assert errors == []
    assert sorted(got) == list(range(1, 17))
    assert sorted(mv.version for mv in store.search_model_versions("m")) == list(range(1, 17))


@pytest.mark.timeout(300)
def test_sixteen_registrations_across_processes(tmp_path):
    uri = str(tmp_path / "mlruns")
    FileBackend(uri)
    # The registered model does not exist yet: its creation races as well.
    results = _run_processes(_register_worker, lambda i: (uri, "m", 4), 4)
    assert [errors for _, errors in results] == [[]] * 4
    versions = sorted(v for got, _ in results for v in got)
    assert versions == list(range(1, 17))
    store = FileBackend(uri)
    assert sorted(mv.version for mv in store.search_model_versions("m")) == list(range(1, 17))
    store.delete_model_version("m", 16)
    assert store.create_model_version("m", "/tmp/model").version == 17


# -- write-once params ------------------------------------------------------------------
PARAM_KEYS = 25


def _param_worker(uri, run_id, proc, barrier, queue):
    store = FileBackend(uri)
    barrier.wait(timeout=120)
    outcome = {}
    for k in range(PARAM_KEYS):
        try:
            store.log_param(run_id, Param(f"k{k}", f"value-from-{proc}"))
            outcome[k] = "won"
        except InvalidInput as exc:
            assert "Changing param values is not allowed" in str(exc)
            outcome[k] = "refused"
    queue.put((proc, outcome))


@pytest.mark.timeout(300)
def test_param_write_once_race_between_processes(tmp_path):
    uri = str(tmp_path / "mlruns")
    store = FileBackend(uri)
    run_id = store.create_run("0", "u", 0, "race", []).info.run_id
    results = dict(_run_processes(_param_worker, lambda i: (uri, run_id, i), 4))
    params = store.get_run(run_id).data.params
    for k in range(PARAM_KEYS):
        winners = [proc for proc, outcome in results.items() if outcome[k] == "won"]
        assert len(winners) == 1, (k, results)
        assert params[f"k{k}"] == f"value-from-{winners[0]}"
    run_dir = Path(uri) / "0" / run_id
    assert sorted(os.listdir(run_dir / "params")) == sorted(f"k{k}" for k in range(PARAM_KEYS))
