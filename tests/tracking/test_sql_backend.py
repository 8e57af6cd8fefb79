"""SQL-specific behaviour of the sqlite:/postgresql: backend: pragmas, schema
version, the URL and artifact-root rules, the search translation checked
against the in-memory reference (`tracking.search`), and concurrency across
threads and processes (version numbers, params, metrics).

The behaviour shared with the file backend lives in test_conformance.py.
PostgreSQL cases run when MLCADENCE_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from mlcadence.settings import reload_settings
from mlcadence.tracking import Client
from mlcadence.tracking.backends import backend_options, build_backend, clear_cache, sql_schema
from mlcadence.tracking.backends.sql import SqlBackend, engine_url
from mlcadence.tracking.entities import Metric, Param, RunStatus, RunTag
from mlcadence.tracking.errors import InvalidInput, InvalidState, NotFound
from mlcadence.tracking.search import filter_runs, parse_filter, parse_order_by, sort_runs

T0 = 1_700_000_000_000


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def sql_uri(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'mlcadence.db'}"
    else:
        with request.getfixturevalue("postgres_database")() as url:
            yield url


@pytest.fixture
def sqlite_uri(tmp_path):
    return f"sqlite:///{tmp_path / 'store' / 'mlcadence.db'}"


@pytest.fixture
def backend(sql_uri):
    b = SqlBackend(sql_uri)
    yield b
    b.close()


def _new_run(backend, exp_id="0", name="r", start=T0, tags=()):
    return backend.create_run(exp_id, "tester", start, name, list(tags)).info.run_id


# -- engine, pragmas, schema --------------------------------------------------------------
def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(sqlite_uri):
    backend = SqlBackend(sqlite_uri)
    with backend._engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    backend.close()
    assert pragma["journal_mode"].lower() == "wal"
    assert pragma["foreign_keys"] == 1
    assert pragma["busy_timeout"] >= 10_000
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    path = engine_url(sqlite_uri).database
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"


def test_schema_version_recorded_and_default_experiment(backend):
    with backend._engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM schema_version")).scalars().all()
    assert versions == [sql_schema.SCHEMA_VERSION]
    default = backend.get_experiment("0")
    assert (default.name, default.lifecycle_stage) == ("Default", "active")
    # Opening the store again neither duplicates the row nor the experiment.
    again = SqlBackend(backend.uri)
    assert [e.experiment_id for e in again.list_experiments()] == ["0"]
    again.close()


def test_store_from_a_newer_schema_is_refused(sqlite_uri):
    SqlBackend(sqlite_uri).close()
    path = engine_url(sqlite_uri).database
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE schema_version SET version_num = 999")
    with pytest.raises(InvalidState, match="999"):
        SqlBackend(sqlite_uri)


def test_expected_indexes_exist(backend):
    from sqlalchemy import inspect

    with backend._engine.connect() as conn:
        inspector = inspect(conn)
        indexed = {
            table: [tuple(ix["column_names"]) for ix in inspector.get_indexes(table)]
            for table in ("runs", "latest_metrics", "params", "tags")
        }
    assert ("experiment_id", "start_time") in indexed["runs"]
    assert ("key", "value") in indexed["latest_metrics"]
    for table in ("params", "tags"):
        assert any("value" in cols for cols in indexed[table]), indexed[table]


def test_postgresql_uri_uses_psycopg3():
    url = engine_url("postgresql://u:p@localhost:5432/db")
    assert url.drivername == "postgresql+psycopg"
    assert engine_url("postgresql+psycopg://u:p@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(InvalidInput):
        engine_url("mysql://u:p@h/db")


def test_relative_sqlite_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert engine_url("sqlite:///rel/mlflow.db").database == str(tmp_path / "rel" / "mlflow.db")


# -- artifact locations -------------------------------------------------------------------
def test_artifact_uri_defaults_next_to_the_sqlite_file(sqlite_uri, monkeypatch):
    monkeypatch.delenv("MLCADENCE_ARTIFACT_ROOT", raising=False)
    backend = SqlBackend(sqlite_uri)
    run = backend.create_run("0", "u", T0, "r", [])
    root = Path(engine_url(sqlite_uri).database).parent / "mlartifacts"
    assert run.info.artifact_uri == (root / "0" / run.info.run_id / "artifacts").as_uri()
    exp_id = backend.create_experiment("e")
    assert backend.get_experiment(exp_id).artifact_location == (root / exp_id).as_uri()
    backend.close()


def test_artifact_root_from_argument_and_environment(tmp_path, monkeypatch):
    explicit = SqlBackend(f"sqlite:///{tmp_path / 'a.db'}", artifact_root=tmp_path / "arts")
    run = explicit.create_run("0", "u", T0, "r", [])
    assert run.info.artifact_uri.startswith((tmp_path / "arts" / "0").as_uri() + "/")
    explicit.close()

    monkeypatch.setenv("MLCADENCE_ARTIFACT_ROOT", str(tmp_path / "env-root"))
    reload_settings()
    # The factory reads the settings and passes the root in; the backend reads none.
    from_env = build_backend(f"sqlite:///{tmp_path / 'b.db'}", **backend_options())
    exp_id = from_env.create_experiment("e")
    assert (
        from_env.get_experiment(exp_id).artifact_location
        == (tmp_path / "env-root" / exp_id).as_uri()
    )
    # A user-given location wins over the root, and the Client makes a plain path a URI.
    client = Client(from_env.uri)
    own = client.create_experiment("own", artifact_location=str(tmp_path / "own"))
    assert from_env.get_experiment(own).artifact_location == (tmp_path / "own").as_uri()
    clear_cache()
    from_env.close()


# -- data semantics that are SQL-specific -------------------------------------------------
def test_nan_and_infinities_round_trip_and_latest_rule(backend):
    run_id = _new_run(backend)
    backend.log_metric(run_id, Metric("m", 1.0, T0, 5))
    backend.log_metric(run_id, Metric("m", float("nan"), T0, 5))  # NaN never wins a tie
    backend.log_metric(run_id, Metric("m", 0.5, T0 + 1, 4))  # lower step loses
    backend.log_batch(run_id, metrics=[Metric("inf", float("inf"), T0, 0)])
    backend.log_batch(run_id, metrics=[Metric("ninf", float("-inf"), T0, 0)])
    metrics = backend.get_run(run_id).data.metrics
    assert metrics == {"m": 1.0, "inf": math.inf, "ninf": -math.inf}
    history = backend.get_metric_history(run_id, "m")
    assert [m.step for m in history] == [5, 5, 4]
    assert math.isnan(history[1].value)
    backend.log_metric(run_id, Metric("m", float("nan"), T0, 6))
    assert math.isnan(backend.get_run(run_id).data.metrics["m"])


def test_latest_metric_within_one_batch_and_across_batches(backend):
    run_id = _new_run(backend)
    rng = random.Random(7)
    logged = [
        Metric("k", rng.choice([0.1, 0.2, 0.3]), T0 + rng.randint(0, 3), rng.randint(0, 3))
        for _ in range(60)
    ]
    for start in range(0, 60, 20):
        backend.log_batch(run_id, metrics=logged[start : start + 20])
    best = max(logged, key=lambda m: (m.step, m.timestamp, m.value))
    assert backend.get_run(run_id).data.metrics["k"] == best.value
    # An exact duplicate record (a retried batch) is stored once, the first time.
    assert backend.get_metric_history(run_id, "k") == list(dict.fromkeys(logged))


def test_writes_to_deleted_or_missing_runs_fail_and_write_nothing(backend):
    run_id = _new_run(backend)
    backend.delete_run(run_id)
    with pytest.raises(InvalidState):
        backend.log_metric(run_id, Metric("m", 1.0, T0, 0))
    with pytest.raises(NotFound):
        backend.log_batch("0" * 32, params=[Param("p", "v")])
    backend.restore_run(run_id)
    assert backend.get_metric_history(run_id, "m") == []


def test_param_conflict_rolls_back_the_whole_batch(backend):
    run_id = _new_run(backend)
    backend.log_param(run_id, Param("p", "1"))
    with pytest.raises(InvalidInput, match="Changing param values"):
        backend.log_batch(
            run_id,
            metrics=[Metric("m", 1.0, T0, 0)],
            params=[Param("q", "new"), Param("p", "2")],
            tags=[RunTag("t", "v")],
        )
    run = backend.get_run(run_id)
    assert run.data.params == {"p": "1"}
    assert "t" not in run.data.tags and run.data.metrics == {}
    assert backend.get_metric_history(run_id, "m") == []


def test_experiment_ids_are_strings_and_foreign_ids_are_not_found(backend):
    exp_id = backend.create_experiment("e1")
    assert isinstance(exp_id, str) and exp_id != "0"
    for bad in ("abc", "99999", "1" * 30):
        with pytest.raises(NotFound):
            backend.get_experiment(bad)
    assert backend.search_runs(["abc"]) == []


def test_deleted_versions_keep_their_numbers_and_deleting_the_model_cascades(backend):
    for _ in range(3):
        backend.create_model_version("m", "runs:/x/model")
    backend.set_model_version_tag("m", 3, "k", "v")
    backend.set_registered_model_alias("m", "champion", 3)
    backend.delete_model_version("m", 3)
    assert backend.create_model_version("m", "s").version == 4
    backend.delete_registered_model("m")
    with backend._engine.connect() as conn:
        for table in ("model_versions", "model_version_tags", "registered_model_aliases"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
    assert backend.create_model_version("m", "s").version == 1


# -- search: the SQL translation agrees with the in-memory reference ----------------------
SEARCH_FILTERS = [
    "",
    "metrics.acc > 0.5",
    "metrics.acc <= 0.5",
    "metrics.acc = 0.25",
    "metrics.acc != 0.25",
    "metrics.loss >= 0",
    "params.opt = 'Adam'",
    "params.opt != 'adam'",
    "params.opt LIKE 'a%'",
    "params.opt LIKE 'A_am'",
    "params.opt ILIKE 'ADA%'",
    "params.opt LIKE '%[x]*?%'",
    "params.opt IN ('sgd', 'Adam')",
    "params.opt NOT IN ('sgd')",
    "params.opt IS NULL",
    "params.opt IS NOT NULL",
    "tags.group = 'g1'",
    "tags.group LIKE 'g%'",
    "tags.note LIKE '%100\\%%'",
    "tags.note LIKE 'back\\slash'",
    "attributes.status = 'FINISHED'",
    "attributes.status LIKE 'F%'",
    "attributes.run_name LIKE 'run-1%'",
    "attributes.user_id != 'alice'",
    f"attributes.start_time >= {T0 + 20}",
    f"attributes.end_time > {T0}",
    "metrics.acc > 0.2 AND params.opt != 'sgd' AND tags.group IN ('g0', 'g2')",
]
SEARCH_ORDERS = [
    [],
    ["metrics.acc DESC"],
    ["metrics.acc"],
    ["params.opt", "metrics.loss DESC"],
    ["tags.group DESC", "attributes.run_name"],
    ["attributes.end_time"],
    ["attributes.status DESC", "start_time ASC"],
    ["run_name DESC"],
]


@pytest.fixture
def varied_runs(backend):
    """40 runs with missing keys, NaN, ties, mixed case and LIKE metacharacters."""
    rng = random.Random(1234)
    exp_id = backend.create_experiment("varied")
    opts = ["Adam", "adam", "sgd", "Ad_m", "[x]*?y", None]
    for i in range(40):
        run_id = _new_run(backend, exp_id, f"run-{i}", start=T0 + rng.choice([i, 10, 20]))
        metrics = []
        if rng.random() < 0.8:
            metrics.append(Metric("acc", rng.choice([0.25, 0.5, 0.75, float("nan")]), T0, 0))
        if rng.random() < 0.5:
            metrics.append(Metric("loss", rng.uniform(-1, 1), T0, 0))
        opt = rng.choice(opts)
        tags = [RunTag("group", f"g{rng.randint(0, 3)}")] if rng.random() < 0.7 else []
        if rng.random() < 0.3:
            tags.append(
                RunTag("note", rng.choice(["100% sure", "100 sure", "back\\slash", "100\\% x"]))
            )
        backend.log_batch(
            run_id,
            metrics=metrics,
            params=[Param("opt", opt)] if opt else [],
            tags=tags,
        )
        if rng.random() < 0.6:
            status = rng.choice([RunStatus.FINISHED, RunStatus.FAILED])
            backend.update_run(run_id, status, T0 + rng.randint(-5, 5))
        if i % 7 == 0:
            backend.update_run(run_id, None, None)  # no-op update is harmless
    return exp_id


def test_search_matches_in_memory_reference(backend, varied_runs):
    everything = backend.search_runs([varied_runs], max_results=50_000)
    for order in SEARCH_ORDERS:
        for filter_string in SEARCH_FILTERS:
            expected = sort_runs(
                filter_runs(everything, parse_filter(filter_string)), parse_order_by(order)
            )
            got = backend.search_runs([varied_runs], filter_string, order_by=order)
            assert [r.info.run_id for r in got] == [r.info.run_id for r in expected], (
                filter_string,
                order,
            )
            if len(order) == 1:  # LIMIT applies after ordering (a sample keeps this fast)
                limited = backend.search_runs(
                    [varied_runs], filter_string, order_by=order, max_results=3
                )
                assert [r.info.run_id for r in limited] == [r.info.run_id for r in expected[:3]]


def test_search_returns_complete_runs(backend, varied_runs):
    by_search = {r.info.run_id: r for r in backend.search_runs([varied_runs])}
    assert len(by_search) == 40
    for run_id, run in list(by_search.items())[:10]:
        single = backend.get_run(run_id)
        assert run.info == single.info
        assert run.data.params == single.data.params and run.data.tags == single.data.tags
        assert run.data.metrics.keys() == single.data.metrics.keys()


def test_search_view_filters_deleted_runs(backend):
    kept, gone = _new_run(backend, name="kept"), _new_run(backend, name="gone")
    backend.delete_run(gone)
    assert [r.info.run_id for r in backend.search_runs(["0"])] == [kept]
    assert [r.info.run_id for r in backend.search_runs(["0"], view="deleted")] == [gone]
    assert len(backend.search_runs(["0"], view="all")) == 2


# -- concurrency --------------------------------------------------------------------------
def test_sixteen_threads_register_versions_one_to_sixteen(sql_uri, race):
    backend = SqlBackend(sql_uri)
    versions, errors = race(
        lambda i: backend.create_model_version("racy", f"runs:/{i}/model").version, 16
    )
    assert errors == []
    assert sorted(versions) == list(range(1, 17))
    listed = backend.search_model_versions("racy")
    assert sorted(v.version for v in listed) == list(range(1, 17))
    backend.close()


def _register_in_process(uri: str, threads: int, start, results) -> None:
    backend = SqlBackend(uri)
    start.wait()
    with ThreadPoolExecutor(threads) as pool:
        versions = list(
            pool.map(
                lambda i: backend.create_model_version("shared", f"s{i}").version, range(threads)
            )
        )
    backend.close()
    results.put(versions)


@pytest.mark.integration
def test_processes_and_threads_register_versions_one_to_sixteen(sql_uri):
    SqlBackend(sql_uri).close()  # schema first, so the race is about versions only
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_register_in_process, args=(sql_uri, 4, start, results))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    start.set()
    versions = [v for _ in procs for v in results.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(versions) == list(range(1, 17))


def _log_in_process(uri: str, own_run: str, shared_run: str, worker: int, count: int) -> None:
    backend = SqlBackend(uri)
    for i in range(count):
        backend.log_metric(own_run, Metric("m", float(i), T0 + i, i))
        backend.log_metric(shared_run, Metric(f"w{worker}", float(i), T0 + i, i))
    backend.log_batch(
        shared_run,
        metrics=[Metric("batch", float(worker * 1000 + i), T0, i) for i in range(count)],
        params=[Param(f"p{worker}", str(worker))],
        tags=[RunTag("last", str(worker))],
    )
    backend.close()


@pytest.mark.integration
def test_four_processes_log_into_one_sqlite_file(sqlite_uri):
    backend = SqlBackend(sqlite_uri)
    shared = _new_run(backend, name="shared")
    own = [_new_run(backend, name=f"own-{w}") for w in range(4)]
    count = 150
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_log_in_process, args=(sqlite_uri, own[w], shared, w, count))
        for w in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    expected = [float(i) for i in range(count)]
    for w in range(4):
        assert [m.value for m in backend.get_metric_history(own[w], "m")] == expected
        assert [m.value for m in backend.get_metric_history(shared, f"w{w}")] == expected
    run = backend.get_run(shared)
    assert run.data.params == {f"p{w}": str(w) for w in range(4)}
    assert run.data.metrics == {
        **{f"w{w}": float(count - 1) for w in range(4)},
        "batch": max(w * 1000.0 + count - 1 for w in range(4)),
    }
    assert len(backend.get_metric_history(shared, "batch")) == 4 * count
    assert run.data.tags["last"] in {"0", "1", "2", "3"}
    backend.close()


def test_concurrent_writers_of_one_param_exactly_one_wins(sql_uri, race):
    backend = SqlBackend(sql_uri)
    run_id = _new_run(backend)

    def write(i):
        backend.log_param(run_id, Param("lr", str(i)))
        return str(i)

    winners, errors = race(write, 12)
    assert all(isinstance(error, InvalidInput) for error in errors), errors
    assert len(winners) == 1
    assert backend.get_run(run_id).data.params == {"lr": winners[0]}
    backend.close()


def _param_in_process(uri: str, run_id: str, value: str, start, results) -> None:
    backend = SqlBackend(uri)
    start.wait()
    try:
        backend.log_param(run_id, Param("seed", value))
        results.put(value)
    except InvalidInput:
        results.put(None)
    backend.close()


@pytest.mark.integration
def test_concurrent_processes_of_one_param_exactly_one_wins(sqlite_uri):
    # PostgreSQL gives every thread its own connection, so the thread race
    # above already covers it; SQLite's file locking differs across processes.
    sql_uri = sqlite_uri
    backend = SqlBackend(sql_uri)
    run_id = _new_run(backend)
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_param_in_process, args=(sql_uri, run_id, str(i), start, results))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    start.set()
    outcome = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    winners = [v for v in outcome if v is not None]
    assert len(winners) == 1
    assert backend.get_run(run_id).data.params == {"seed": winners[0]}
    backend.close()


def test_concurrent_experiment_creation_with_one_name(sql_uri, race):
    backend = SqlBackend(sql_uri)
    created, errors = race(lambda _: backend.create_experiment("same"), 8)
    assert len(created) == 1 and isinstance(created[0], str)
    assert all(type(error).__name__ == "AlreadyExists" for error in errors), errors
    backend.close()


def test_a_version_2_store_is_migrated_duplicates_dropped_and_logged_models_added(sql_uri):
    """Schema 2 had no logged-model tables and kept exact duplicate metric
    rows; opening such a store removes the duplicates (the first row stays)
    and from then on a repeated record is not stored again."""
    first = build_backend(sql_uri)
    run_id = _new_run(first)
    first.log_batch(run_id, metrics=[Metric("m", 1.0, T0, 0), Metric("n", math.nan, T0, 0)])
    with first._engine.begin() as conn:  # put the store back to schema 2, with duplicates
        conn.execute(text(f"DROP INDEX {sql_schema.METRIC_IDENTITY_INDEX}"))
        for table in ("logged_model_params", "logged_model_tags", "logged_models"):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(
            text(
                "INSERT INTO metrics (run_id, key, value, is_nan, timestamp, step) "
                "SELECT run_id, key, value, is_nan, timestamp, step FROM metrics"
            )
        )
        conn.execute(text("UPDATE schema_version SET version_num = 2"))
        assert conn.execute(text("SELECT COUNT(*) FROM metrics")).scalar() == 4
    first.close()

    upgraded = build_backend(sql_uri)
    assert [m.value for m in upgraded.get_metric_history(run_id, "m")] == [1.0]
    assert len(upgraded.get_metric_history(run_id, "n")) == 1
    upgraded.log_metric(run_id, Metric("m", 1.0, T0, 0))  # the same record again
    assert len(upgraded.get_metric_history(run_id, "m")) == 1
    model = upgraded.create_logged_model("0", "model", run_id)
    assert upgraded.get_logged_model(model.model_id).source_run_id == run_id
    upgraded.close()
