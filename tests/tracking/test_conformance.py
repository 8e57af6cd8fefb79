"""One behaviour contract, run against every backend (file, sqlite, PostgreSQL)
and over http:// against live tracking servers (ours and the real `mlflow
server`).

Written against the abstract interface, mostly through `Client`; a few
checks call the backend directly to prove it defends itself (bad keys,
all-or-nothing batches) when used without the Client in front of it.
"""

from __future__ import annotations

import math
import os

import pytest

from mlcadence.tracking import Client
from mlcadence.tracking.artifacts import artifact_root
from mlcadence.tracking.backends import clear_cache
from mlcadence.tracking.conventions import uri_scheme
from mlcadence.tracking.entities import Metric, Param, RunStatus, RunTag
from mlcadence.tracking.errors import AlreadyExists, InvalidInput, NotFound, TrackingError
from tests.conftest import BACKEND_KINDS, _postgres_database

T0 = 1_700_000_000_000
# A version source every store accepts: a tracking server refuses local paths
# (MLflow's server does) unless they lie inside the run's artifacts.
SOURCE = "s3://conformance-bucket/model"


# Where MLflow's own server legitimately differs from our stores, a test runs
# only on ours (`ours_only`); each such test says why.
OUR_KINDS = [*BACKEND_KINDS, "server"]
ours_only = pytest.mark.parametrize("backend_uri", OUR_KINDS, indirect=True)


@pytest.fixture(params=[*BACKEND_KINDS, "server", "mlflow-server"])
def backend_uri(request, tmp_path):
    """The root conftest's store kinds, and over http://: our `mlcadence
    server` (a new one over a sqlite store per test) and the real `mlflow
    server` (one per module, its store emptied for each test)."""
    kind = request.param
    if kind == "server":
        start = request.getfixturevalue("tracking_server")
        yield start(f"sqlite:///{tmp_path / 'served.db'}").url
    elif kind == "mlflow-server":
        server = request.getfixturevalue("mlflow_server")
        server.wipe()
        yield server.url
    elif kind == "postgresql":
        yield from _postgres_uri()
    else:
        yield str(tmp_path / "mlruns") if kind == "file" else f"sqlite:///{tmp_path / 'm.db'}"


def _postgres_uri():
    if not os.environ.get("MLCADENCE_TEST_POSTGRES_URL"):
        pytest.skip("MLCADENCE_TEST_POSTGRES_URL is not set")
    with _postgres_database() as url:
        yield url


@pytest.fixture
def client(backend_uri):
    yield Client(backend_uri)
    clear_cache()


@pytest.fixture
def exp(client):
    return client.create_experiment("conformance")


def _run(client, exp_id, name=None, start=T0, tags=None):
    return client.create_run(exp_id, run_name=name, tags=tags, start_time=start)


# -- experiments ---------------------------------------------------------------
def test_experiment_create_get_and_tags(client):
    exp_id = client.create_experiment("exp-a", tags={"team": "ml"})
    assert isinstance(exp_id, str)
    got = client.get_experiment(exp_id)
    assert (got.experiment_id, got.name, got.lifecycle_stage) == (exp_id, "exp-a", "active")
    assert got.artifact_location
    assert got.tags.get("team") == "ml"
    client.set_experiment_tag(exp_id, "stage", "dev")
    assert client.get_experiment(exp_id).tags["stage"] == "dev"
    assert client.get_experiment_by_name("exp-a").experiment_id == exp_id


def test_rename_experiment(client):
    exp_id = client.create_experiment("before")
    client.rename_experiment(exp_id, "after")
    assert client.get_experiment(exp_id).name == "after"
    assert client.get_experiment_by_name("before") is None
    assert client.get_experiment_by_name("after").experiment_id == exp_id


@ours_only  # MLflow's server reports the clash as a raw IntegrityError (INVALID_PARAMETER_VALUE)
def test_rename_experiment_to_a_taken_name(client):
    exp_id = client.create_experiment("before")
    client.create_experiment("taken")
    with pytest.raises(AlreadyExists):
        client.rename_experiment(exp_id, "taken")
    assert client.get_experiment(exp_id).name == "before"


def test_experiment_lookup_missing(client):
    assert client.get_experiment_by_name("nope") is None
    with pytest.raises(NotFound):
        client.get_experiment("123456789")


def test_experiment_name_unique_even_when_deleted(client):
    exp_id = client.create_experiment("dup")
    with pytest.raises(AlreadyExists):
        client.create_experiment("dup")
    client.delete_experiment(exp_id)
    with pytest.raises(AlreadyExists):
        client.create_experiment("dup")


def test_experiment_delete_restore(client):
    exp_id = client.create_experiment("gone-soon")
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert exp_id not in [e.experiment_id for e in client.search_experiments()]
    assert exp_id in [e.experiment_id for e in client.search_experiments(view_type="deleted")]
    with pytest.raises(TrackingError):
        client.create_run(exp_id)
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert exp_id in [e.experiment_id for e in client.search_experiments()]
    assert client.create_run(exp_id).info.experiment_id == exp_id


def test_experiment_bad_names(client):
    for bad in ("", "   ", "x" * 501):
        with pytest.raises(InvalidInput):
            client.create_experiment(bad)


def test_search_experiments_filter(client):
    a = client.create_experiment("alpha-1")
    client.create_experiment("beta-1")
    found = client.search_experiments(filter_string="name LIKE 'alpha%'")
    assert [e.experiment_id for e in found] == [a]


# -- runs ------------------------------------------------------------------------
def test_run_lifecycle(client, exp):
    run = client.create_run(exp, run_name="r1", tags={"mlflow.user": "alice"}, start_time=T0)
    info = run.info
    assert info.status == RunStatus.RUNNING
    assert (info.start_time, info.end_time, info.run_name) == (T0, None, "r1")
    assert info.user_id == "alice"
    assert info.experiment_id == exp
    assert run.data.tags["mlflow.runName"] == "r1"
    if uri_scheme(info.artifact_uri) in ("", "file"):
        assert artifact_root(info.artifact_uri).is_absolute()
    else:  # proxied by the server: mlflow-artifacts:/<experiment>/<run>/artifacts
        assert (
            info.artifact_uri.startswith("mlflow-artifacts:/") and run.run_id in info.artifact_uri
        )
    client.set_terminated(info.run_id, "FAILED", end_time=T0 + 5)
    info = client.get_run(info.run_id).info
    assert (info.status, info.end_time) == (RunStatus.FAILED, T0 + 5)


def test_terminal_statuses(client, exp):
    for status in ("FINISHED", "FAILED", "KILLED"):
        run_id = _run(client, exp).info.run_id
        client.set_terminated(run_id, status)
        info = client.get_run(run_id).info
        assert info.status == RunStatus[status]
        assert info.end_time is not None and info.end_time >= info.start_time


def test_get_missing_run(client):
    with pytest.raises(NotFound):
        client.get_run("0123456789abcdef0123456789abcdef")


def test_run_delete_restore(client, exp):
    keep = _run(client, exp, start=T0).info.run_id
    gone = _run(client, exp, start=T0 + 1).info.run_id
    client.delete_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in client.search_runs([exp])] == [keep]
    assert [r.info.run_id for r in client.search_runs([exp], run_view_type="deleted")] == [gone]
    assert len(client.search_runs([exp], run_view_type="all")) == 2
    with pytest.raises(TrackingError):
        client.log_metric(gone, "m", 1.0)
    client.restore_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "active"
    client.log_metric(gone, "m", 1.0)


def test_run_name_sources(client, exp):
    by_tag = client.create_run(exp, tags={"mlflow.runName": "from-tag"})
    assert by_tag.info.run_name == "from-tag"
    generated = client.create_run(exp)
    assert (
        generated.info.run_name and generated.data.tags["mlflow.runName"] == generated.info.run_name
    )
    with pytest.raises(InvalidInput):
        client.create_run(exp, run_name="a", tags={"mlflow.runName": "b"})


def test_run_name_tag_and_info_stay_in_sync(client, exp):
    run_id = _run(client, exp, name="first").info.run_id
    client.set_tag(run_id, "mlflow.runName", "second")
    run = client.get_run(run_id)
    assert (run.info.run_name, run.data.tags["mlflow.runName"]) == ("second", "second")
    client.update_run(run_id, name="third")
    run = client.get_run(run_id)
    assert (run.info.run_name, run.data.tags["mlflow.runName"]) == ("third", "third")


# -- params ------------------------------------------------------------------------
def test_params_write_once(client, exp):
    run_id = _run(client, exp).info.run_id
    client.log_param(run_id, "lr", 0.1)
    client.log_param(run_id, "lr", "0.1")  # same value again is fine
    with pytest.raises(InvalidInput) as err:
        client.log_param(run_id, "lr", 0.2)
    assert "lr" in err.value.message
    assert client.get_run(run_id).data.params == {"lr": "0.1"}


def test_batch_with_param_conflict_writes_nothing(client, exp):
    run_id = _run(client, exp).info.run_id
    client.log_param(run_id, "p", "1")
    with pytest.raises(InvalidInput):
        client.log_batch(
            run_id,
            metrics=[Metric("m", 1.0, T0, 0)],
            params=[Param("q", "new"), Param("p", "2")],
            tags=[RunTag("t", "v")],
        )
    data = client.get_run(run_id).data
    assert data.params == {"p": "1"}
    assert "m" not in data.metrics and "t" not in data.tags
    assert client.get_metric_history(run_id, "m") == []


# -- metrics -----------------------------------------------------------------------
@ours_only  # MLflow's SQL store returns history sorted by timestamp and step
def test_metric_history_keeps_logged_order(client, exp):
    run_id = _run(client, exp).info.run_id
    logged = [(0.5, T0 + 3, 3), (0.25, T0 + 1, 1), (0.75, T0 + 2, 2), (1.0, T0 + 4, 0)]
    for value, ts, step in logged:
        client.log_metric(run_id, "loss", value, timestamp=ts, step=step)
    history = client.get_metric_history(run_id, "loss")
    assert [(m.value, m.timestamp, m.step) for m in history] == logged
    assert all(m.key == "loss" for m in history)


def test_latest_metric_is_max_step_then_timestamp_then_value(client, exp):
    run_id = _run(client, exp).info.run_id
    client.log_metric(run_id, "by_step", 1.0, timestamp=T0, step=5)
    client.log_metric(run_id, "by_step", 9.0, timestamp=T0 + 10, step=2)
    client.log_metric(run_id, "by_ts", 1.0, timestamp=T0 + 10, step=1)
    client.log_metric(run_id, "by_ts", 9.0, timestamp=T0, step=1)
    client.log_metric(run_id, "by_value", 2.0, timestamp=T0, step=1)
    client.log_metric(run_id, "by_value", 3.0, timestamp=T0, step=1)
    client.log_metric(run_id, "by_value", 1.0, timestamp=T0, step=1)
    metrics = client.get_run(run_id).data.metrics
    assert metrics == {"by_step": 1.0, "by_ts": 1.0, "by_value": 3.0}


@ours_only  # MLflow's SQL store clamps +-inf to +-1.797e308
def test_special_float_values_round_trip(client, exp):
    run_id = _run(client, exp).info.run_id
    for step, value in enumerate([math.nan, math.inf, -math.inf, 1e-5]):
        client.log_metric(run_id, "odd", value, timestamp=T0, step=step)
    values = [m.value for m in client.get_metric_history(run_id, "odd")]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf, 1e-5]


def test_metric_keys_with_slashes_and_missing_history(client, exp):
    run_id = _run(client, exp).info.run_id
    client.log_metric(run_id, "train/loss", 0.5, timestamp=T0, step=1)
    assert client.get_run(run_id).data.metrics == {"train/loss": 0.5}
    assert [m.value for m in client.get_metric_history(run_id, "train/loss")] == [0.5]
    assert client.get_metric_history(run_id, "never-logged") == []


def test_invalid_metric_values(client, exp):
    run_id = _run(client, exp).info.run_id
    for bad in ("abc", None, True):
        with pytest.raises(InvalidInput):
            client.log_metric(run_id, "m", bad)


# -- tags ----------------------------------------------------------------------------
def test_tags_overwrite_and_delete(client, exp):
    run_id = _run(client, exp).info.run_id
    client.set_tag(run_id, "team", "a")
    client.set_tag(run_id, "team", "b")
    client.set_tag(run_id, "empty", None)
    tags = client.get_run(run_id).data.tags
    assert (tags["team"], tags["empty"]) == ("b", "")
    client.delete_tag(run_id, "team")
    assert "team" not in client.get_run(run_id).data.tags
    with pytest.raises(NotFound):
        client.delete_tag(run_id, "team")


# -- log_batch -------------------------------------------------------------------------
def test_log_batch_full_size(client, exp):
    run_id = _run(client, exp).info.run_id
    metrics = [Metric("m", float(i), T0 + i, i) for i in range(1000)]
    client.log_batch(run_id, metrics=metrics)
    client.log_batch(
        run_id,
        params=[Param(f"p{i}", str(i)) for i in range(100)],
        tags=[RunTag(f"t{i}", str(i)) for i in range(100)],
    )
    run = client.get_run(run_id)
    assert len(client.get_metric_history(run_id, "m")) == 1000
    assert run.data.metrics["m"] == 999.0
    assert len(run.data.params) == 100
    assert run.data.tags["t99"] == "99"


BATCHES_OVER_LIMITS = {
    "metrics": {"metrics": [Metric("m", 1.0, T0, i) for i in range(1001)]},
    "params": {"params": [Param(f"p{i}", "v") for i in range(101)]},
    "tags": {"tags": [RunTag(f"t{i}", "v") for i in range(101)]},
    "total": {
        "metrics": [Metric("m", 1.0, T0, i) for i in range(950)],
        "params": [Param(f"p{i}", "v") for i in range(51)],
    },
    "duplicate-params": {"params": [Param("same", "1"), Param("same", "2")]},
}


def test_log_batch_limits(client, exp):
    run_id = _run(client, exp).info.run_id
    for case, kwargs in BATCHES_OVER_LIMITS.items():
        with pytest.raises(InvalidInput) as err:
            client.log_batch(run_id, **kwargs)
        assert "split" in err.value.message or "Duplicate" in err.value.message, case
    data = client.get_run(run_id).data
    assert not data.metrics and not data.params


# -- bad keys ----------------------------------------------------------------------------
BAD_KEYS = ["../x", "/etc/passwd", "a//b", "a/../../b", "", "x\x00y", "a\\b", "."]


def test_bad_keys_rejected_by_client(client, exp):
    run_id = _run(client, exp).info.run_id
    for key in BAD_KEYS:
        for call in (
            lambda key=key: client.log_param(run_id, key, "v"),
            lambda key=key: client.log_metric(run_id, key, 1.0),
            lambda key=key: client.set_tag(run_id, key, "v"),
        ):
            with pytest.raises(InvalidInput):
                call()
    data = client.get_run(run_id).data
    assert not data.params and not data.metrics


def test_bad_keys_rejected_by_backend_itself(client, exp):
    """Without the Client in front: a backend is also called by servers."""
    run_id = _run(client, exp).info.run_id
    backend = client.backend
    for key in ("../x", "/abs", "a/../../b", "a//b"):
        with pytest.raises(InvalidInput):
            backend.log_batch(run_id, metrics=[Metric("ok", 1.0, T0, 0), Metric(key, 1.0, T0, 0)])
        with pytest.raises(InvalidInput):
            backend.log_param(run_id, Param(key, "v"))
        with pytest.raises(InvalidInput):
            backend.set_tag(run_id, RunTag(key, "v"))
    assert client.get_metric_history(run_id, "ok") == []


# -- search ---------------------------------------------------------------------------------
@pytest.fixture
def searchable(client, exp):
    """Five runs with known values; returns {name: run_id}."""
    spec = {
        # name: (start offset, metrics, params, tags, status)
        "r1": (
            1,
            {"acc": 0.9, "loss": 0.1},
            {"model": "rf", "depth": "3"},
            {"team": "a"},
            "FINISHED",
        ),
        "r2": (
            2,
            {"acc": 0.7, "loss": 0.3},
            {"model": "lr", "depth": "5"},
            {"team": "b"},
            "FINISHED",
        ),
        "r3": (3, {"acc": 0.5}, {"model": "rf"}, {"team": "a"}, "FAILED"),
        "r4": (4, {"loss": 0.9}, {"model": "Xgb"}, {}, "RUNNING"),
        "r5": (5, {"acc": 0.7}, {}, {"team": "c"}, "FINISHED"),
    }
    ids = {}
    for name, (offset, metrics, params, tags, status) in spec.items():
        run_id = _run(client, exp, name=name, start=T0 + offset * 1000).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, T0, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if status != "RUNNING":
            client.set_terminated(run_id, status, end_time=T0 + offset * 1000 + 500)
        ids[name] = run_id
    return ids


def _names(client, exp, filter_string="", order_by=None, max_results=1000):
    runs = client.search_runs([exp], filter_string, max_results=max_results, order_by=order_by)
    return [r.info.run_name for r in runs]


SEARCH_CASES = [
    ("", {"r1", "r2", "r3", "r4", "r5"}),
    ("metrics.acc > 0.6", {"r1", "r2", "r5"}),
    ("metrics.acc >= 0.7", {"r1", "r2", "r5"}),
    ("metrics.acc < 0.7", {"r3"}),
    ("metrics.acc <= 0.7", {"r2", "r3", "r5"}),
    ("metrics.acc = 0.7", {"r2", "r5"}),
    ("metrics.acc != 0.7", {"r1", "r3"}),  # runs without acc never match
    ("params.model = 'rf'", {"r1", "r3"}),
    ("params.model != 'rf'", {"r2", "r4"}),
    ("params.model LIKE 'r%'", {"r1", "r3"}),
    ("params.model LIKE 'X_b'", {"r4"}),
    ("params.model LIKE 'x%'", set()),
    ("params.model ILIKE 'x%'", {"r4"}),
    ("tags.team = 'a'", {"r1", "r3"}),
    ("tags.`team` != 'a'", {"r2", "r5"}),
    ("attributes.status = 'FINISHED'", {"r1", "r2", "r5"}),
    ("attributes.status != 'FINISHED'", {"r3", "r4"}),
    ("attributes.run_name LIKE 'r%'", {"r1", "r2", "r3", "r4", "r5"}),
    ("attributes.run_name = 'r4'", {"r4"}),
    (f"attributes.start_time > {T0 + 3000}", {"r4", "r5"}),
    (f"attributes.start_time <= {T0 + 2000}", {"r1", "r2"}),
    ("metrics.acc > 0.6 AND params.model = 'rf'", {"r1"}),
    ("metrics.loss < 1 and tags.team = 'a' AND attributes.status = 'FINISHED'", {"r1"}),
]


def test_search_filters(client, exp, searchable):
    for filter_string, expected in SEARCH_CASES:
        assert set(_names(client, exp, filter_string)) == expected, filter_string


IN_LIST_CASES = [
    ("params.model IN ('rf', 'lr')", {"r1", "r2", "r3"}),
    ("tags.team IN ('b', 'c')", {"r2", "r5"}),
]


@ours_only  # MLflow's search allows IN only on run ids and datasets
def test_search_in_lists_on_params_and_tags(client, exp, searchable):
    for filter_string, expected in IN_LIST_CASES:
        assert set(_names(client, exp, filter_string)) == expected, filter_string


def test_search_by_run_id(client, exp, searchable):
    run_id = searchable["r2"]
    assert _names(client, exp, f"attributes.run_id = '{run_id}'") == ["r2"]
    in_list = f"attributes.run_id IN ('{searchable['r1']}', '{run_id}')"
    assert set(_names(client, exp, in_list)) == {"r1", "r2"}


def test_search_default_order_newest_first(client, exp, searchable):
    assert _names(client, exp) == ["r5", "r4", "r3", "r2", "r1"]


def test_search_order_by_metric_missing_last(client, exp, searchable):
    desc = _names(client, exp, order_by=["metrics.acc DESC"])
    assert desc[0] == "r1" and set(desc[1:3]) == {"r2", "r5"} and desc[3:] == ["r3", "r4"]
    asc = _names(client, exp, order_by=["metrics.acc ASC"])
    assert asc[0] == "r3" and set(asc[1:3]) == {"r2", "r5"} and asc[3:] == ["r1", "r4"]


def test_search_order_by_tiebreak_and_multiple_keys(client, exp, searchable):
    # r2 and r5 tie on acc; the second key decides.
    names = _names(client, exp, order_by=["metrics.acc DESC", "attributes.start_time ASC"])
    assert names == ["r1", "r2", "r5", "r3", "r4"]
    names = _names(client, exp, order_by=["metrics.acc DESC", "attributes.start_time DESC"])
    assert names == ["r1", "r5", "r2", "r3", "r4"]


def test_search_order_by_param_and_attribute(client, exp, searchable):
    names = _names(client, exp, "params.model != 'Xgb'", ["params.model ASC", "start_time ASC"])
    assert names == ["r2", "r1", "r3"]
    names = _names(client, exp, order_by=["params.depth ASC"])
    assert names[:2] == ["r1", "r2"] and set(names[2:]) == {"r3", "r4", "r5"}  # missing last
    names = _names(client, exp, order_by=["params.depth DESC"])
    assert names[:2] == ["r2", "r1"] and set(names[2:]) == {"r3", "r4", "r5"}
    assert _names(client, exp, order_by=["attributes.start_time ASC"]) == [
        "r1",
        "r2",
        "r3",
        "r4",
        "r5",
    ]
    assert _names(client, exp, order_by=["start_time DESC"]) == ["r5", "r4", "r3", "r2", "r1"]


def test_search_max_results_after_ordering(client, exp, searchable):
    assert _names(client, exp, order_by=["metrics.loss DESC"], max_results=2) == ["r4", "r2"]
    assert _names(client, exp, "metrics.acc > 0", max_results=1) == ["r5"]


def test_search_over_several_experiments(client, exp, searchable):
    other = client.create_experiment("other")
    _run(client, other, name="o1", start=T0 + 9000)
    runs = client.search_runs([exp, other], order_by=["attributes.start_time DESC"], max_results=2)
    assert [r.info.run_name for r in runs] == ["o1", "r5"]


BAD_FILTERS = [
    "metrics.acc >",
    "metric.acc ~ 1",
    "params.model = rf",
    "foo.bar = 'x'",
    "metrics.acc > 'x'",
]


def test_search_bad_filter_and_order(client, exp):
    for bad in BAD_FILTERS:
        with pytest.raises(InvalidInput):
            client.search_runs([exp], bad)
    with pytest.raises(InvalidInput):
        client.search_runs([exp], order_by=["metrics.acc SIDEWAYS"])


# -- registry ---------------------------------------------------------------------------------
def test_registered_model_crud(client):
    model = client.create_registered_model("m1", tags={"k": "v"}, description="first")
    assert (model.name, model.description, model.tags) == ("m1", "first", {"k": "v"})
    with pytest.raises(AlreadyExists):
        client.create_registered_model("m1")
    client.update_registered_model("m1", "second")
    client.set_registered_model_tag("m1", "owner", "me")
    client.delete_registered_model_tag("m1", "k")
    model = client.get_registered_model("m1")
    assert (model.description, model.tags) == ("second", {"owner": "me"})
    assert [m.name for m in client.search_registered_models()] == ["m1"]
    client.delete_registered_model("m1")
    with pytest.raises(NotFound):
        client.get_registered_model("m1")
    assert client.search_registered_models() == []


def test_rename_registered_model_moves_its_versions_and_aliases(client):
    client.create_model_version("old-name", SOURCE)
    client.set_registered_model_alias("old-name", "champion", 1)
    assert client.rename_registered_model("old-name", "new-name").name == "new-name"
    assert client.get_model_version("new-name", 1).source == SOURCE
    assert client.get_model_version_by_alias("new-name", "champion").version == 1
    with pytest.raises(NotFound):
        client.get_registered_model("old-name")


def test_registered_model_bad_names(client):
    for bad in ("a/b", "a:b", "", ".."):
        with pytest.raises(InvalidInput):
            client.create_registered_model(bad)


def test_versions_never_reused(client, exp):
    run_id = _run(client, exp).info.run_id
    versions = [
        client.create_model_version("m", f"runs:/{run_id}/model", run_id=run_id).version
        for _ in range(3)
    ]
    assert versions == [1, 2, 3]
    client.delete_model_version("m", 3)
    with pytest.raises(NotFound):
        client.get_model_version("m", 3)
    assert client.create_model_version("m", SOURCE).version == 4
    client.delete_model_version("m", 2)
    assert client.create_model_version("m", SOURCE).version == 5
    assert [v.version for v in client.search_model_versions(name="m")] == [5, 4, 1]
    assert [v.version for v in client.search_model_versions("name = 'm'")] == [5, 4, 1]
    mv = client.get_model_version("m", 1)
    assert (mv.name, mv.source, mv.run_id, mv.current_stage) == (
        "m",
        f"runs:/{run_id}/model",
        run_id,
        "None",
    )


def test_model_version_missing(client):
    with pytest.raises(NotFound):
        client.get_model_version("absent", 1)
    client.create_model_version("present", SOURCE)
    with pytest.raises(NotFound):
        client.get_model_version("present", 7)


def test_aliases(client):
    for _ in range(2):
        client.create_model_version("am", SOURCE)
    client.set_registered_model_alias("am", "champion", 1)
    client.set_registered_model_alias("am", "challenger", 2)
    assert client.get_model_version_by_alias("am", "champion").version == 1
    assert "champion" in client.get_model_version("am", 1).aliases
    assert client.get_registered_model("am").aliases == {"champion": 1, "challenger": 2}
    client.set_registered_model_alias("am", "champion", 2)  # moves, not duplicates
    assert client.get_model_version_by_alias("am", "champion").version == 2
    assert client.get_model_version("am", 1).aliases == []
    assert sorted(client.get_model_version("am", 2).aliases) == ["challenger", "champion"]
    client.delete_registered_model_alias("am", "challenger")
    # MLflow answers an unknown alias with INVALID_PARAMETER_VALUE, not 404.
    with pytest.raises(InvalidInput):
        client.get_model_version_by_alias("am", "challenger")
    with pytest.raises(NotFound):
        client.set_registered_model_alias("am", "ghost", 9)


def test_deleting_a_version_drops_its_aliases(client):
    client.create_model_version("dm", SOURCE)
    client.create_model_version("dm", SOURCE)
    client.set_registered_model_alias("dm", "champion", 2)
    client.delete_model_version("dm", 2)
    with pytest.raises(InvalidInput):
        client.get_model_version_by_alias("dm", "champion")
    assert client.get_registered_model("dm").aliases == {}


def test_reserved_or_bad_alias_names(client):
    client.create_model_version("rm", SOURCE)
    for alias in ("latest", "LATEST", "v1", "V12", "", "a b", "x/y"):
        with pytest.raises(InvalidInput):
            client.set_registered_model_alias("rm", alias, 1)
    assert client.get_registered_model("rm").aliases == {}


def test_stages_and_archive_existing(client):
    for _ in range(3):
        client.create_model_version("sm", SOURCE)
    client.transition_model_version_stage("sm", 1, "production")
    assert client.get_model_version("sm", 1).current_stage == "Production"
    client.transition_model_version_stage("sm", 2, "Staging")
    mv = client.transition_model_version_stage(
        "sm", 3, "Production", archive_existing_versions=True
    )
    assert mv.current_stage == "Production"
    stages = {v: client.get_model_version("sm", v).current_stage for v in (1, 2, 3)}
    assert stages == {1: "Archived", 2: "Staging", 3: "Production"}
    latest = client.get_latest_versions("sm", ["Production"])
    assert [v.version for v in latest] == [3]
    with pytest.raises(InvalidInput):
        client.transition_model_version_stage("sm", 1, "Live")


def test_latest_versions_on_registered_model(client):
    for _ in range(2):
        client.create_model_version("lm", SOURCE)
    client.transition_model_version_stage("lm", 1, "Staging")
    latest = {
        mv.current_stage: mv.version for mv in client.get_registered_model("lm").latest_versions
    }
    assert latest == {"Staging": 1, "None": 2}


def test_model_version_tags_and_description(client):
    mv = client.create_model_version("tm", SOURCE, tags={"a": "1"}, description="d1")
    assert (mv.tags, mv.description) == ({"a": "1"}, "d1")
    client.set_model_version_tag("tm", 1, "b", "2")
    client.delete_model_version_tag("tm", 1, "a")
    client.update_model_version("tm", 1, "d2")
    mv = client.get_model_version("tm", 1)
    assert (mv.tags, mv.description) == ({"b": "2"}, "d2")
    with pytest.raises(InvalidInput, match="None"):
        client.set_model_version_tag("tm", 1, "k", None)


def test_registry_bad_versions(client):
    client.create_model_version("bv", SOURCE)
    for bad in ("one", 0, -1):
        with pytest.raises(InvalidInput):
            client.get_model_version("bv", bad)
