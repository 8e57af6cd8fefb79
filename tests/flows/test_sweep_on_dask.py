"""The sweep on real Dask: a `dask scheduler` and two `dask worker` processes
started here, candidates logging to a live tracking server or PostgreSQL;
the same results as the thread runner; a worker SIGKILLed mid-sweep; and the
refusal of a store that remote workers cannot reach."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from mlcadence import tracking
from mlcadence.flows.sweep import sweep
from mlcadence.pipeline.candidate_runs import CANDIDATE_TAG, SUPERSEDED_BY_TAG
from mlcadence.pipeline.errors import InvalidConfig
from mlcadence.tracking.entities import RunStatus
from mlcadence.tracking.reaper import PID_TAG
from tests.dask_fixtures import dask_cluster  # noqa: F401
from tests.tracking.server_fixtures import tracking_server  # noqa: F401

pytestmark = pytest.mark.integration

MLCADENCE = str(Path(sys.executable).with_name("mlcadence"))
MODELS = ["random_forest", "logistic_regression", "gradient_boosting"]
WINDOWS = [3, 5, 7, 10]  # 4 windows × 3 models: 12 candidates
PARENT_TAG = "mlflow.parentRunId"


def sweep_command(spec: str, tracking_uri: str, experiment: str, register_as: str) -> list[str]:
    return [
        MLCADENCE,
        "sweep",
        "--source",
        "synthetic:11",
        "--windows",
        ",".join(map(str, WINDOWS)),
        "--models",
        ",".join(MODELS),
        "--experiment",
        experiment,
        "--register-as",
        register_as,
        "--task-runner",
        spec,
        "--tracking-uri",
        tracking_uri,
        "--json",
        "--quiet",
    ]


@pytest.fixture
def cli_env(prefect_server, tmp_path):
    """The CLI's environment: the session's Prefect server, its own data
    cache, and no MLCADENCE_TRACKING_URI (the command gets --tracking-uri)."""
    env = {k: v for k, v in os.environ.items() if k != "MLCADENCE_TRACKING_URI"}
    return {**env, "MLCADENCE_CACHE_DIR": str(tmp_path / "cache")}


def worker_trap(tmp_path) -> dict[str, str]:
    """A tracking URI in the workers' environment that no candidate may use:
    the store must reach them with each candidate."""
    return {"MLCADENCE_TRACKING_URI": str(tmp_path / "worker-own-mlruns")}


def run_sweep(argv, env) -> dict:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


def children_of(client, result: dict) -> list:
    parent = result["extra"]["parent_run_id"]
    return client.search_runs([result["experiment_id"]], f"tags.`{PARENT_TAG}` = '{parent}'")


def by_candidate(children) -> dict[tuple[str, str], object]:
    return {(c.data.params["model"], c.data.params["window"]): c for c in children}


def model_file(client, result: dict, name: str) -> bytes:
    version = client.get_model_version(result["registered_name"], result["version"])
    run_id = version.source.split("/")[1]  # runs:/<run_id>/model
    return client.download_artifacts(run_id, f"model/{name}").read_bytes()


def same_model(one: bytes, other: bytes) -> bool:
    """The same fitted estimator. Not byte for byte: the one trained on a
    worker crossed a pickle round trip before it was saved, which changes how
    pickle shares equal objects (dtypes), not any value. One more round trip
    each puts both in the same shape."""
    return pickle.dumps(pickle.loads(one)) == pickle.dumps(pickle.loads(other))


def test_sweep_on_two_dask_workers_logs_12_candidates_to_the_tracking_server_as_threads_do(
    tracking_server,  # noqa: F811
    dask_cluster,  # noqa: F811
    cli_env,
    tmp_path,
):
    server = tracking_server(f"sqlite:///{tmp_path / 'served.db'}")
    cluster = dask_cluster(2, **worker_trap(tmp_path))
    on_dask = run_sweep(sweep_command(cluster.spec, server.url, "on-dask", "swept-dask"), cli_env)
    on_threads = run_sweep(
        sweep_command("threads", server.url, "on-threads", "swept-threads"), cli_env
    )
    client = tracking.Client(server.url)

    dask_children = children_of(client, on_dask)
    assert len(dask_children) == 12
    assert all(c.info.status == RunStatus.FINISHED for c in dask_children)
    assert len({c.data.tags[CANDIDATE_TAG] for c in dask_children}) == 12
    # Trained on both worker processes, none in the CLI's.
    worker_pids = {str(w.pid) for w in cluster.workers}
    assert {c.data.tags[PID_TAG] for c in dask_children} == worker_pids
    assert not Path(worker_trap(tmp_path)["MLCADENCE_TRACKING_URI"]).exists()

    # The same metrics per candidate, the same winner, the same registered model.
    dask_by, threads_by = (
        by_candidate(dask_children),
        by_candidate(children_of(client, on_threads)),
    )
    assert dask_by.keys() == threads_by.keys()
    for key, run in dask_by.items():
        assert run.data.metrics == threads_by[key].data.metrics, key
        assert run.data.params == threads_by[key].data.params, key
    assert on_dask["params"] == on_threads["params"]
    assert on_dask["metrics"] == on_threads["metrics"]
    assert [c["model"] for c in on_dask["extra"]["candidates"]] == [
        c["model"] for c in on_threads["extra"]["candidates"]
    ]
    assert same_model(
        model_file(client, on_dask, "model.pkl"), model_file(client, on_threads, "model.pkl")
    )
    for name in ("input_example.json", "requirements.txt", "python_env.yaml"):
        assert model_file(client, on_dask, name) == model_file(client, on_threads, name)
    signature = [
        yaml.safe_load(model_file(client, result, "MLmodel"))["signature"]
        for result in (on_dask, on_threads)
    ]
    assert signature[0] == signature[1]
    assert on_dask["decision"]["promote"] and on_threads["decision"]["promote"]


def test_a_worker_killed_mid_sweep_leaves_every_candidate_finished_once_on_postgresql(
    postgres_database,
    dask_cluster,  # noqa: F811
    cli_env,
    tmp_path,
):
    with postgres_database() as store_uri:
        cluster = dask_cluster(2, **worker_trap(tmp_path))
        victim, survivor = cluster.workers
        sweeping = subprocess.Popen(
            sweep_command(cluster.spec, store_uri, "killed", "swept-killed"),
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        client = tracking.Client(store_uri)
        try:
            orphan_id = _kill_mid_candidate(client, cluster, 0, sweeping)
            out, err = sweeping.communicate(timeout=900)
        finally:
            if sweeping.poll() is None:
                sweeping.kill()
                sweeping.communicate()
        assert sweeping.returncode == 0, err[-4000:]
        result = json.loads(out)

        everything = client.search_runs([result["experiment_id"]])
        assert not [r for r in everything if r.info.status == RunStatus.RUNNING]
        children = children_of(client, result)
        finished = [c for c in children if c.info.status == RunStatus.FINISHED]
        assert len(finished) == 12
        assert Counter(c.data.tags[CANDIDATE_TAG] for c in finished).most_common(1)[0][1] == 1
        # The killed worker's half-done run ended FAILED, replaced by a run on the survivor.
        orphan = client.get_run(orphan_id)
        assert orphan.info.status == RunStatus.FAILED
        replacement = client.get_run(orphan.data.tags[SUPERSEDED_BY_TAG])
        assert replacement.info.status == RunStatus.FINISHED
        assert replacement.data.tags[CANDIDATE_TAG] == orphan.data.tags[CANDIDATE_TAG]
        assert replacement.data.tags[PID_TAG] == str(survivor.pid)
        superseded = [c for c in children if SUPERSEDED_BY_TAG in c.data.tags]
        assert all(c.info.status == RunStatus.FAILED for c in superseded)
        assert len(children) == 12 + len(superseded)


def _kill_mid_candidate(client, cluster, index: int, sweeping) -> str:
    """SIGKILL worker `index` while it trains a candidate (its run is RUNNING
    and has no metrics yet); returns that run's id."""
    pid = cluster.workers[index].pid
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert sweeping.poll() is None, "the sweep ended before the worker could be killed"
        ids = [e.experiment_id for e in client.search_experiments()]
        running = (
            client.search_runs(ids, f"tags.`{PID_TAG}` = '{pid}' AND attributes.status = 'RUNNING'")
            if ids
            else []
        )
        # The slower estimators leave time to kill it before the run ends.
        training = [
            r
            for r in running
            if not r.data.metrics and r.data.params.get("model") != "logistic_regression"
        ]
        if training:
            # Freeze the worker, then look again: a candidate that finished
            # between the search and the freeze is not the one to kill on.
            os.kill(pid, signal.SIGSTOP)
            run = client.get_run(training[0].info.run_id)
            if run.info.status == RunStatus.RUNNING:
                cluster.kill_worker(index)  # SIGKILL ends a stopped process too
                return run.info.run_id
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.02)
    raise AssertionError("the worker never trained a candidate")


def test_local_dask_cluster_trains_candidates_in_worker_processes_on_a_file_store(store, run_flow):
    result = run_flow(
        sweep,
        source="synthetic:3",
        windows=[5, 10],
        models=["random_forest", "logistic_regression"],
        register_as=None,
        task_runner="dask",
    )
    children = children_of(store, {**result.as_dict()})
    assert len(children) == 4
    assert all(c.info.status == RunStatus.FINISHED for c in children)
    assert str(os.getpid()) not in {c.data.tags[PID_TAG] for c in children}


def test_a_remote_scheduler_with_a_file_or_sqlite_store_is_refused_before_prefect_starts(
    tmp_path,
):
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL",)}
    for store_uri in (str(tmp_path / "mlruns"), f"sqlite:///{tmp_path / 'runs.db'}"):
        done = subprocess.run(
            [
                MLCADENCE,
                "sweep",
                "--task-runner",
                "dask://127.0.0.1:9",
                "--tracking-uri",
                store_uri,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == InvalidConfig.cli_exit_code
        message = done.stderr
        assert message.startswith("error: --task-runner dask://127.0.0.1:9")
        for hint in ("--tracking-uri", "MLCADENCE_TRACKING_URI", "http(s)://", "postgresql://"):
            assert hint in message
        assert "Prefect" not in message and not (tmp_path / "mlruns").exists()


def test_the_sweep_flow_itself_refuses_a_file_store_with_a_remote_scheduler(store, run_flow):
    with pytest.raises(InvalidConfig, match="MLCADENCE_TRACKING_URI"):
        run_flow(sweep, source="synthetic:3", task_runner="dask://127.0.0.1:9")
    assert not store.search_experiments() or not store.search_runs(
        [e.experiment_id for e in store.search_experiments()]
    )


def test_a_task_runner_without_an_address_is_refused_with_the_forms_it_takes(tmp_path):
    done = subprocess.run(
        [MLCADENCE, "sweep", "--task-runner", "dask://"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == InvalidConfig.cli_exit_code
    assert "dask://HOST:PORT" in done.stderr and "threads" in done.stderr


def test_the_sweep_deployment_takes_the_task_runner_and_its_schema_checks_the_forms():
    from mlcadence.flows import serve

    (deployment,) = [d for d in serve.deployments() if d.name == "sweep"]
    assert deployment.entrypoint == "mlcadence.flows.sweep.sweep"
    # The schema the deployment carries: Prefect's server checks run parameters with it.
    declared = sweep.parameters.model_dump()["properties"]["task_runner"]
    assert declared["default"] == "threads"
    pattern = re.compile(declared["pattern"])
    assert all(pattern.match(s) for s in ("threads", "dask", "ray", "dask://10.0.0.5:8786"))
    assert not any(pattern.match(s) for s in ("dask://", "dask://host", "processes"))
