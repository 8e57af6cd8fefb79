"""File backend: MLflow's on-disk layout byte for byte, registry semantics,
key safety and tolerant readers."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcadence.tracking import Client
from mlcadence.tracking.backends import clear_cache
from mlcadence.tracking.backends.file import FileBackend, root_from_uri
from mlcadence.tracking.backends.file_yaml import dump_yaml, load_yaml
from mlcadence.tracking.entities import Metric, Param, RunStatus, RunTag
from mlcadence.tracking.errors import AlreadyExists, InvalidInput, InvalidState, NotFound


@pytest.fixture
def store(tmp_path) -> FileBackend:
    return FileBackend(str(tmp_path / "mlruns"))


@pytest.fixture
def client(store):
    """A Client on the same root: input rules are the Client's (backends trust it)."""
    yield Client(store.uri)
    clear_cache()


def new_run(store: FileBackend, name="r1", exp_name="exp", start=1000):
    exp = store.get_experiment_by_name(exp_name)
    exp_id = exp.experiment_id if exp else store.create_experiment(exp_name)
    return store.create_run(exp_id, "alice", start, name, [])


def read(path) -> str:
    return Path(path).read_text(encoding="utf-8")


# -- URIs and a new root ------------------------------------------------------
def test_uri_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert root_from_uri("mlruns") == str(tmp_path / "mlruns")
    assert root_from_uri("file:rel/store") == str(tmp_path / "rel" / "store")
    assert root_from_uri(f"file://{tmp_path}/abs") == str(tmp_path / "abs")
    assert root_from_uri(f"file://localhost{tmp_path}/h") == str(tmp_path / "h")
    assert root_from_uri("file:///tmp/a%20b") == "/tmp/a b"
    with pytest.raises(InvalidInput, match="host"):
        root_from_uri("file://elsewhere/x")
    store = FileBackend("file:rel/store")
    assert store.get_experiment("0").name == "Default"
    assert (tmp_path / "rel" / "store" / "0" / "meta.yaml").is_file()


def test_new_root_has_default_experiment_and_trash_exactly_like_mlflow(tmp_path):
    root = tmp_path / "mlruns"
    FileBackend(str(root))
    assert (root / ".trash").is_dir()
    text = read(root / "0" / "meta.yaml")
    ts = re.search(r"creation_time: (\d+)", text).group(1)
    assert text == (
        f"artifact_location: {root.as_uri()}/0\n"
        f"creation_time: {ts}\n"
        "effective_trace_archival_retention: null\n"
        "experiment_id: '0'\n"
        f"last_update_time: {ts}\n"
        "lifecycle_stage: active\n"
        "name: Default\n"
        "trace_location: null\n"
        "workspace: default\n"
    )


def test_existing_store_is_not_given_a_second_default(tmp_path):
    root = tmp_path / "mlruns"
    store = FileBackend(str(root))
    store.create_experiment("e")
    again = FileBackend(str(root))
    assert sorted(e.name for e in again.list_experiments()) == ["Default", "e"]


# -- experiments ----------------------------------------------------------------
def test_experiment_layout_and_ids(store):
    exp_id = store.create_experiment("exp1", tags={"team": "a", "nested/key": "v"})
    assert re.fullmatch(r"[1-9]\d{17}", exp_id)
    exp_dir = Path(store.root) / exp_id
    meta = yaml.safe_load(read(exp_dir / "meta.yaml"))
    assert meta["experiment_id"] == exp_id and isinstance(meta["experiment_id"], str)
    assert meta["artifact_location"] == f"{Path(store.root).as_uri()}/{exp_id}"
    assert list(meta) == sorted(meta)
    assert read(exp_dir / "tags" / "team") == "a"
    assert read(exp_dir / "tags" / "nested" / "key") == "v"
    exp = store.get_experiment(exp_id)
    assert exp.name == "exp1" and exp.tags == {"team": "a", "nested/key": "v"}
    assert store.get_experiment_by_name("exp1").experiment_id == exp_id
    assert store.get_experiment_by_name("nope") is None


def test_experiment_names_unique_also_against_deleted(store):
    exp_id = store.create_experiment("e")
    with pytest.raises(AlreadyExists, match="already exists"):
        store.create_experiment("e")
    store.delete_experiment(exp_id)
    with pytest.raises(AlreadyExists, match="deleted state"):
        store.create_experiment("e")


def test_artifact_location_is_made_a_file_uri(store, client, tmp_path):
    exp_id = client.create_experiment("loc", artifact_location=str(tmp_path / "art"))
    assert store.get_experiment(exp_id).artifact_location == (tmp_path / "art").as_uri()
    with pytest.raises(InvalidInput, match="runs:/"):
        client.create_experiment("bad", artifact_location="runs:/abc/x")


def test_delete_experiment_moves_it_to_trash_and_marks_runs(store):
    run = new_run(store)
    exp_id = run.info.experiment_id
    store.delete_experiment(exp_id)
    root = Path(store.root)
    assert not (root / exp_id).exists()
    trashed = root / ".trash" / exp_id
    assert yaml.safe_load(read(trashed / "meta.yaml"))["lifecycle_stage"] == "deleted"
    run_meta = yaml.safe_load(read(trashed / run.info.run_id / "meta.yaml"))
    assert run_meta["lifecycle_stage"] == "deleted" and isinstance(run_meta["deleted_time"], int)
    assert [e.experiment_id for e in store.list_experiments("deleted")] == [exp_id]
    assert exp_id not in [e.experiment_id for e in store.list_experiments()]
    with pytest.raises(InvalidState):
        store.log_metric(run.info.run_id, Metric("m", 1.0, 1, 0))
    with pytest.raises(InvalidState):
        store.create_run(exp_id, "u", 1, "r", [])
    with pytest.raises(InvalidState, match="active"):
        store.set_experiment_tag(exp_id, "k", "v")

    store.restore_experiment(exp_id)
    assert (root / exp_id).is_dir() and not trashed.exists()
    run_meta = yaml.safe_load(read(root / exp_id / run.info.run_id / "meta.yaml"))
    assert run_meta["lifecycle_stage"] == "active" and "deleted_time" not in run_meta
    store.log_metric(run.info.run_id, Metric("m", 1.0, 1, 0))


def test_default_experiment_cannot_be_deleted(client):
    with pytest.raises(InvalidInput, match="default experiment"):
        client.delete_experiment("0")


# -- runs -------------------------------------------------------------------------
def test_run_layout_byte_for_byte(store):
    run = new_run(store, name="r1", start=1795664903522)
    run_id, exp_id = run.info.run_id, run.info.experiment_id
    assert re.fullmatch(r"[0-9a-f]{32}", run_id)
    run_dir = Path(store.root) / exp_id / run_id
    assert {p.name for p in run_dir.iterdir() if not p.name.startswith(".")} == {
        "meta.yaml",
        "metrics",
        "params",
        "artifacts",
        "tags",
    }
    artifact_uri = f"{Path(store.root).as_uri()}/{exp_id}/{run_id}/artifacts"
    common = (
        "entry_point_name: ''\n"
        f"experiment_id: '{exp_id}'\n"
        "lifecycle_stage: active\n"
        f"run_id: {run_id}\n"
        "run_name: r1\n"
        "source_name: ''\n"
        "source_type: 4\n"
        "source_version: ''\n"
        "start_time: 1795664903522\n"
    )
    assert read(run_dir / "meta.yaml") == (
        f"artifact_uri: {artifact_uri}\n"
        "deleted_time: null\n"
        "end_time: null\n" + common + "status: 1\n"
        "tags: []\n"
        "user_id: alice\n"
    )
    assert read(run_dir / "tags" / "mlflow.runName") == "r1"

    store.update_run(run_id, RunStatus.FINISHED, 1795664903528)
    assert read(run_dir / "meta.yaml") == (
        f"artifact_uri: {artifact_uri}\n"
        "end_time: 1795664903528\n" + common + "status: 3\n"
        "tags: []\n"
        "user_id: alice\n"
    )


def test_metric_param_tag_files(store, client):
    run_id = new_run(store).info.run_id
    run_dir = Path(store.root) / store.get_run(run_id).info.experiment_id / run_id
    store.log_metric(run_id, Metric("acc", 1.5, 1795664903527, 3))
    store.log_metric(run_id, Metric("acc", 1e-05, 1795664903528, 4))
    # Through the Client, which turns values into the strings and floats stored.
    client.log_batch(
        run_id,
        metrics=[
            Metric("acc", math.nan, 5, 5),
            Metric("acc", math.inf, 6, 6),
            Metric("a/b", 2, 7, 0),
        ],
        params=[Param("lr", 0.1)],
        tags=[RunTag("note", None), RunTag("n/t", 3)],
    )
    assert read(run_dir / "metrics" / "acc") == (
        "1795664903527 1.5 3\n1795664903528 1e-05 4\n5 nan 5\n6 inf 6\n"
    )
    assert read(run_dir / "metrics" / "a" / "b") == "7 2.0 0\n"
    assert read(run_dir / "params" / "lr") == "0.1"
    assert read(run_dir / "tags" / "note") == ""
    assert read(run_dir / "tags" / "n" / "t") == "3"
    run = store.get_run(run_id)
    assert run.data.metrics["acc"] == math.inf  # max by (step, ts, value)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["n/t"] == "3" and run.data.tags["mlflow.runName"] == "r1"
    history = store.get_metric_history(run_id, "acc")
    assert [m.step for m in history] == [3, 4, 5, 6]
    assert store.get_metric_history(run_id, "never") == []


def test_params_are_write_once(store, client):
    run_id = new_run(store).info.run_id
    store.log_param(run_id, Param("p", "a"))
    store.log_param(run_id, Param("p", "a"))  # same value is fine
    with pytest.raises(InvalidInput, match="Changing param values is not allowed"):
        store.log_param(run_id, Param("p", "b"))
    # A batch with a changed param writes nothing at all.
    with pytest.raises(InvalidInput):
        store.log_batch(
            run_id, metrics=[Metric("m", 1, 1, 0)], params=[Param("q", "x"), Param("p", "b")]
        )
    run = store.get_run(run_id)
    assert run.data.params == {"p": "a"} and run.data.metrics == {}
    with pytest.raises(InvalidInput, match="Duplicate parameter keys"):
        client.log_batch(run_id, params=[Param("d", "1"), Param("d", "2")])


def test_run_name_lives_in_meta_and_tag(store, client):
    run_id = new_run(store, name="first").info.run_id
    run_dir = Path(store.root) / store.get_run(run_id).info.experiment_id / run_id
    store.set_tag(run_id, RunTag("mlflow.runName", "second"))
    assert yaml.safe_load(read(run_dir / "meta.yaml"))["run_name"] == "second"
    store.update_run(run_id, run_name="third")
    assert read(run_dir / "tags" / "mlflow.runName") == "third"
    assert store.get_run(run_id).info.run_name == "third"
    exp_id = store.get_run(run_id).info.experiment_id
    # The run-name rules are the Client's.
    with pytest.raises(InvalidInput, match="Both 'run_name'"):
        client.create_run(exp_id, run_name="a", tags=[RunTag("mlflow.runName", "b")])
    from_tag = client.create_run(exp_id, tags=[RunTag("mlflow.runName", "tagged")])
    assert from_tag.info.run_name == "tagged"
    assert read(run_dir.parent / from_tag.info.run_id / "tags" / "mlflow.runName") == "tagged"
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d+", client.create_run(exp_id).info.run_name)


def test_deleted_run_stays_in_place(store):
    run = new_run(store)
    run_dir = Path(store.root) / run.info.experiment_id / run.info.run_id
    store.delete_run(run.info.run_id)
    meta = yaml.safe_load(read(run_dir / "meta.yaml"))
    assert meta["lifecycle_stage"] == "deleted" and meta["deleted_time"] > 0
    with pytest.raises(InvalidState, match="active"):
        store.log_metric(run.info.run_id, Metric("m", 1, 1, 0))
    with pytest.raises(InvalidState):
        store.set_tag(run.info.run_id, RunTag("t", "v"))
    assert store.search_runs([run.info.experiment_id]) == []
    assert [r.info.run_id for r in store.search_runs([run.info.experiment_id], view="deleted")] == [
        run.info.run_id
    ]
    store.restore_run(run.info.run_id)
    assert "deleted_time" not in yaml.safe_load(read(run_dir / "meta.yaml"))
    store.log_metric(run.info.run_id, Metric("m", 1, 1, 0))


def test_a_second_process_view_sees_deletion(store):
    """The per-process run cache must notice a change made elsewhere."""
    run_id = new_run(store).info.run_id
    store.log_metric(run_id, Metric("m", 1, 1, 0))  # caches the run
    FileBackend(store.uri).delete_run(run_id)  # another instance, as another process would
    with pytest.raises(InvalidState):
        store.log_metric(run_id, Metric("m", 2, 2, 0))
    FileBackend(store.uri).restore_run(run_id)
    store.log_metric(run_id, Metric("m", 3, 3, 0))
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0, 3.0]


def test_unknown_run_and_bad_run_id(store):
    with pytest.raises(NotFound):
        store.get_run("0123456789abcdef0123456789abcdef")
    with pytest.raises(InvalidInput):
        store.get_run("../etc")


def test_delete_tag(store):
    run_id = new_run(store).info.run_id
    store.set_tag(run_id, RunTag("t", "v"))
    store.delete_tag(run_id, "t")
    assert "t" not in store.get_run(run_id).data.tags
    with pytest.raises(NotFound):
        store.delete_tag(run_id, "t")


# -- key safety --------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a//b", "a/../b", "", ".", "a\\b"])
def test_keys_that_name_other_paths_are_rejected_everywhere(store, bad):
    run_id = new_run(store).info.run_id
    exp_id = store.get_run(run_id).info.experiment_id
    store.create_model_version("m", "/tmp/x")
    before = sorted(str(p) for p in Path(store.root).parent.rglob("*"))
    calls = [
        lambda: store.log_metric(run_id, Metric(bad, 1, 1, 0)),
        lambda: store.log_param(run_id, Param(bad, "v")),
        lambda: store.set_tag(run_id, RunTag(bad, "v")),
        lambda: store.log_batch(run_id, metrics=[Metric(bad, 1, 1, 0)]),
        lambda: store.log_batch(run_id, params=[Param(bad, "v")]),
        lambda: store.log_batch(run_id, tags=[RunTag(bad, "v")]),
        lambda: store.delete_tag(run_id, bad),
        lambda: store.get_metric_history(run_id, bad),
        lambda: store.set_experiment_tag(exp_id, bad, "v"),
        lambda: store.create_experiment("e2", tags={bad: "v"}),
        lambda: store.set_registered_model_tag("m", bad, "v"),
        lambda: store.set_model_version_tag("m", 1, bad, "v"),
        lambda: store.create_model_version("m", "/tmp/x", tags={bad: "v"}),
    ]
    for call in calls:
        with pytest.raises(InvalidInput):
            call()
    assert sorted(str(p) for p in Path(store.root).parent.rglob("*")) == before


@pytest.mark.parametrize("bad", ["a/b", "..", "a:b", "x%y", "", "."])
def test_model_names_that_name_paths_are_rejected(store, bad):
    with pytest.raises(InvalidInput):
        store.create_registered_model(bad)
    with pytest.raises(InvalidInput):
        store.create_model_version(bad, "/tmp/x")


# -- tolerant readers ------------------------------------------------------------------
def test_reader_skips_partial_trailing_metric_line(store):
    run_id = new_run(store).info.run_id
    store.log_metric(run_id, Metric("m", 1.0, 10, 0))
    run_dir = Path(store.root) / store.get_run(run_id).info.experiment_id / run_id
    with open(run_dir / "metrics" / "m", "a") as f:
        f.write("11 2.")  # a writer in the middle of its line
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0]
    assert store.get_run(run_id).data.metrics == {"m": 1.0}


def test_readers_ignore_temp_files_and_unfinished_dirs(store):
    run = new_run(store)
    exp_dir = Path(store.root) / run.info.experiment_id
    run_dir = exp_dir / run.info.run_id
    (run_dir / ".tmp-abc").write_text("half")  # an in-progress rewrite
    (exp_dir / ".tmp-def").write_text("half")
    (exp_dir / ("f" * 32)).mkdir()  # a run being created: no meta.yaml yet
    (Path(store.root) / "models").mkdir(exist_ok=True)
    store.create_model_version("m", "/tmp/x")
    (Path(store.root) / "models" / "m" / "version-2").mkdir()  # a version being created
    assert [r.info.run_id for r in store.search_runs([run.info.experiment_id])] == [run.info.run_id]
    assert store.get_run(run.info.run_id).data.tags == {"mlflow.runName": "r1"}
    assert [mv.version for mv in store.search_model_versions("m")] == [1]
    assert store.create_model_version("m", "/tmp/y").version == 3  # 2 is taken


def test_corrupt_metric_line_is_reported(store):
    run_id = new_run(store).info.run_id
    run_dir = Path(store.root) / store.get_run(run_id).info.experiment_id / run_id
    (run_dir / "metrics" / "bad").write_text("1 2 3 4\n")
    from mlcadence.tracking.errors import CorruptStore

    with pytest.raises(CorruptStore, match="malformed"):
        store.get_metric_history(run_id, "bad")


def test_legacy_two_field_metric_lines(store):
    run_id = new_run(store).info.run_id
    run_dir = Path(store.root) / store.get_run(run_id).info.experiment_id / run_id
    (run_dir / "metrics" / "old").write_text("5 0.25\n6 0.5 2 ds digest\n")
    assert [(m.value, m.step) for m in store.get_metric_history(run_id, "old")] == [
        (0.25, 0),
        (0.5, 2),
    ]


# -- search over files ---------------------------------------------------------------
def test_search_reads_needed_keys_and_returns_full_runs(store, client):
    exp_id = store.create_experiment("s")
    ids = []
    for i in range(6):
        run = store.create_run(exp_id, "u", 1000 + i, f"r{i}", [])
        store.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, 1, 0), Metric("loss", 1 - i / 10, 1, 0)],
            params=[Param("model", "rf" if i % 2 else "svm")],
            tags=[RunTag("team", "a")],
        )
        ids.append(run.info.run_id)
    found = store.search_runs(
        [exp_id], "metrics.acc >= 0.2 AND params.model = 'rf'", order_by=["metrics.acc DESC"]
    )
    assert [r.info.run_id for r in found] == [ids[5], ids[3]]
    assert found[0].data.metrics == {"acc": 0.5, "loss": 0.5}
    assert found[0].data.tags["team"] == "a" and found[0].data.params == {"model": "rf"}
    assert [r.info.run_id for r in store.search_runs([exp_id], max_results=2)] == [ids[5], ids[4]]
    early = store.search_runs([exp_id], "attributes.start_time >= 1003 AND metrics.acc < 0.5")
    assert [r.info.run_id for r in early] == [ids[4], ids[3]]
    assert early[0].data.params == {"model": "svm"}
    named = store.search_runs([exp_id], "attributes.run_name = 'r2'")
    assert [r.info.run_id for r in named] == [ids[2]]
    assert store.search_runs(["123456789012345678"], "") == []
    with pytest.raises(InvalidInput, match="Invalid filter"):
        store.search_runs([exp_id], "metrics.acc >> 1")
    with pytest.raises(InvalidInput, match="max_results"):
        client.search_runs([exp_id], max_results=0)


# -- registry ------------------------------------------------------------------------
def test_registry_layout_byte_for_byte(store):
    store.create_registered_model("mymodel", description="desc")
    store.create_model_version("mymodel", "runs:/abc/model", "abc")
    store.set_registered_model_alias("mymodel", "champion", 1)
    store.set_model_version_tag("mymodel", 1, "k", "v")
    model_dir = Path(store.root) / "models" / "mymodel"
    assert read(model_dir / "aliases" / "champion") == "1"
    assert read(model_dir / "version-1" / "tags" / "k") == "v"
    rm = read(model_dir / "meta.yaml")
    created, updated = re.findall(r"_timestamp: (\d+)", rm)
    assert rm == (
        "aliases:\n  champion: '1'\n"
        f"creation_timestamp: {created}\n"
        "deployment_job_id: null\ndeployment_job_state: null\ndescription: desc\n"
        f"last_updated_timestamp: {updated}\n"
        "name: mymodel\nworkspace: default\n"
    )
    mv = read(model_dir / "version-1" / "meta.yaml")
    created, updated = re.findall(r"_timestamp: (\d+)", mv)
    assert mv == (
        f"creation_timestamp: {created}\n"
        "current_stage: None\ndeployment_job_state: null\ndescription: null\n"
        f"last_updated_timestamp: {updated}\n"
        "model_id: null\nname: mymodel\nrun_id: abc\nrun_link: null\n"
        "source: runs:/abc/model\nstatus: READY\nstatus_message: null\n"
        "storage_location: runs:/abc/model\nuser_id: null\nversion: 1\nworkspace: default\n"
    )
    assert yaml.safe_load(mv)["current_stage"] == "None"


def test_versions_are_never_reused(store):
    for _ in range(3):
        store.create_model_version("m", "/tmp/x")
    store.delete_model_version("m", 3)
    assert store.create_model_version("m", "/tmp/x").version == 4
    store.delete_model_version("m", 2)
    assert [mv.version for mv in store.search_model_versions("m")] == [4, 1]
    stage = yaml.safe_load(read(Path(store.root) / "models" / "m" / "version-2" / "meta.yaml"))
    assert stage["current_stage"] == "Deleted_Internal"
    with pytest.raises(NotFound):
        store.get_model_version("m", 2)
    with pytest.raises(NotFound):
        store.update_model_version("m", 2, "d")


def test_alias_rules(store):
    store.create_model_version("m", "/tmp/x")
    store.create_model_version("m", "/tmp/x")
    for bad in ["latest", "LATEST", "v1", "V12", "", "a b", "a/b"]:
        with pytest.raises(InvalidInput):
            store.set_registered_model_alias("m", bad, 1)
    with pytest.raises(NotFound):
        store.set_registered_model_alias("m", "ghost", 9)
    store.set_registered_model_alias("m", "champion", 1)
    store.set_registered_model_alias("m", "champion", 2)
    assert store.get_model_version_by_alias("m", "champion").version == 2
    assert store.get_registered_model("m").aliases == {"champion": 2}
    assert store.get_model_version_by_alias("m", "latest").version == 2
    store.delete_model_version("m", 2)  # drops the alias pointing at it
    assert store.get_registered_model("m").aliases == {}
    with pytest.raises(InvalidInput, match="alias champion not found"):
        store.get_model_version_by_alias("m", "champion")
    assert store.get_model_version_by_alias("m", "latest").version == 1
    store.delete_registered_model_alias("m", "never-set")  # no error, as MLflow


def test_stage_transitions_and_latest(store, client):
    for _ in range(3):
        store.create_model_version("m", "/tmp/x")
    client.transition_model_version_stage("m", 1, "production")  # the Client canonicalises
    store.transition_model_version_stage("m", 2, "Production")
    assert store.get_model_version("m", 1).current_stage == "Production"
    store.transition_model_version_stage("m", 3, "Production", archive_existing_versions=True)
    stages = {mv.version: mv.current_stage for mv in store.search_model_versions("m")}
    assert stages == {1: "Archived", 2: "Archived", 3: "Production"}
    latest = {
        mv.current_stage: mv.version for mv in store.get_registered_model("m").latest_versions
    }
    assert latest == {"Archived": 2, "Production": 3}
    with pytest.raises(InvalidInput, match="not an Active stage"):
        client.transition_model_version_stage("m", 1, "Archived", archive_existing_versions=True)
    with pytest.raises(InvalidInput, match="Invalid Model Version stage"):
        client.transition_model_version_stage("m", 1, "Prod")


def test_source_naming_another_version_stores_its_location(store):
    store.create_model_version("a", "runs:/r1/model")
    mv = store.create_model_version("b", "models:/a/1")
    meta = yaml.safe_load(read(Path(store.root) / "models" / "b" / "version-1" / "meta.yaml"))
    assert mv.source == "models:/a/1" and meta["storage_location"] == "runs:/r1/model"


# -- the YAML fast path ---------------------------------------------------------------
_scalars = st.one_of(
    st.none(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.text(max_size=30),
    st.from_regex(r"[A-Za-z_/][A-Za-z0-9_./:@+\-]{0,20}", fullmatch=True),
    st.from_regex(r"[0-9]{1,18}", fullmatch=True),
    st.from_regex(r"[0-9a-f]{1,32}", fullmatch=True),  # run ids
    st.sampled_from(
        [
            "",
            "yes",
            "No",
            "null",
            "true",
            "file:///a/b",
            "a:",
            "x: y",
            "it's",
            "1e3",
            "0b1010",
            "0x1f",
            "1_000",
            "12:30:00",
            "2001-01-01",
            ".inf",
            "1.5",
            "-1",
            "08",
            "0123",
            "~",
        ]
    ),
    st.builds(list),  # a fresh list each time (a shared one would get a YAML anchor)
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), _scalars, max_size=8))
def test_yaml_fast_path_matches_pyyaml(data):
    # MLflow dumps with libyaml's CSafeDumper when it is available.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    reference = yaml.dump(
        data, Dumper=dumper, default_flow_style=False, allow_unicode=True, sort_keys=True
    )
    assert dump_yaml(data) == reference
    assert load_yaml(reference) == (yaml.safe_load(reference) or None)


def test_no_temp_files_left_behind(store):
    run_id = new_run(store).info.run_id
    store.log_param(run_id, Param("p", "v"))
    store.set_tag(run_id, RunTag("t", "v"))
    store.update_run(run_id, RunStatus.FINISHED, 5)
    store.create_model_version("m", "/tmp/x", tags={"a": "b"})
    store.set_registered_model_alias("m", "a", 1)
    # Registry rewrites (the CRUD contract is in test_conformance) are atomic too.
    store.update_registered_model("m", "new")
    store.set_registered_model_tag("m", "k", "v")
    store.update_model_version("m", 1, "vd")
    store.delete_model_version_tag("m", 1, "a")
    store.create_registered_model("gone", tags={"owner": "me"})
    store.delete_registered_model_tag("gone", "owner")
    store.delete_registered_model("gone")
    leftovers = [p for p in Path(store.root).rglob(".tmp-*")]
    assert leftovers == []
    assert os.listdir(Path(store.root) / ".trash") == []


def test_empty_metric_file_being_created_is_not_an_error(store):
    run_id = new_run(store).info.run_id
    run_dir = Path(store.root) / store.get_run(run_id).info.experiment_id / run_id
    (run_dir / "metrics" / "fresh").write_text("")  # created, first line not written yet
    assert store.get_metric_history(run_id, "fresh") == []
    assert "fresh" not in store.get_run(run_id).data.metrics
    assert (
        len(store.search_runs([store.get_run(run_id).info.experiment_id], "metrics.fresh > 0")) == 0
    )


def test_client_hot_path_still_validates_values(store, client):
    run_id = new_run(store).info.run_id
    client.log_metric(run_id, "m", 1.0, 1, 0)  # key now known
    for bad in (True, "1", None):
        with pytest.raises(InvalidInput):
            client.log_metric(run_id, "m", bad, 1, 0)
    with pytest.raises(InvalidInput):
        client.log_metric(run_id, "m", 1.0, -5, 0)
    with pytest.raises(InvalidInput):
        client.log_metric(run_id, "m", 1.0, 1, 0.5)
    client.log_metric(run_id, "m", 2, 2, 1)  # an int value is fine
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0, 2.0]


def test_search_rejects_path_like_experiment_ids(store):
    with pytest.raises(InvalidInput):
        store.search_runs(["../x"])
    with pytest.raises(InvalidInput):
        store.get_experiment("../0")
