"""Artifacts: copying into a run's file:// artifact directory, path safety, atomicity."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from mlcadence import tracking
from mlcadence.tracking import artifacts
from mlcadence.tracking.errors import InvalidInput, NotFound


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "run" / "artifacts"
    root.mkdir(parents=True)
    return root, root.as_uri()


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "src"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("alpha")
    (d / "sub" / "b.bin").write_bytes(b"\x00\x01beta")
    return d


def test_log_artifact_copies_file(store, src):
    root, uri = store
    assert artifacts.log_artifact(uri, src / "a.txt") == "a.txt"
    assert artifacts.log_artifact(uri, src / "a.txt", "deep/er") == "deep/er/a.txt"
    assert (root / "a.txt").read_text() == "alpha"
    assert (root / "deep" / "er" / "a.txt").read_text() == "alpha"


def test_log_artifacts_copies_tree(store, src):
    root, uri = store
    written = artifacts.log_artifacts(uri, src, "data")
    assert sorted(written) == ["data/a.txt", "data/sub/b.bin"]
    assert (root / "data" / "sub" / "b.bin").read_bytes() == b"\x00\x01beta"
    artifacts.log_artifacts(uri, src)
    assert (root / "a.txt").read_text() == "alpha"


def test_log_text_and_dict(store):
    root, uri = store
    artifacts.log_text(uri, "héllo", "notes/readme.md")
    artifacts.log_dict(uri, {"b": 1, "a": [1, 2]}, "conf/params.json")
    artifacts.log_dict(uri, {"b": 1, "a": [1, 2]}, "conf/params.yaml")
    assert (root / "notes" / "readme.md").read_text(encoding="utf-8") == "héllo"
    assert json.loads((root / "conf" / "params.json").read_text()) == {"b": 1, "a": [1, 2]}
    assert yaml.safe_load((root / "conf" / "params.yaml").read_text()) == {"b": 1, "a": [1, 2]}


@pytest.mark.parametrize(
    "bad", ["/etc", "..", "../x", "a/../../x", "a/../..", "a\\..\\x", "/", "x\x00y"]
)
def test_escaping_paths_are_rejected(store, src, bad):
    root, uri = store
    before = sorted(p.name for p in root.parent.parent.rglob("*"))
    for call in (
        lambda: artifacts.log_artifact(uri, src / "a.txt", bad),
        lambda: artifacts.log_artifacts(uri, src, bad),
        lambda: artifacts.log_text(uri, "x", bad),
        lambda: artifacts.list_artifacts(uri, bad),
    ):
        with pytest.raises(InvalidInput):
            call()
    assert sorted(p.name for p in root.parent.parent.rglob("*")) == before


def test_symlink_escape_is_rejected(store, tmp_path):
    root, uri = store
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(InvalidInput):
        artifacts.log_text(uri, "x", "link/evil.txt")
    assert list(outside.iterdir()) == []


def test_inner_dotdot_that_stays_inside_is_fine(store):
    root, uri = store
    assert artifacts.log_text(uri, "ok", "a/../b.txt") == "b.txt"
    assert (root / "b.txt").read_text() == "ok"


def test_overwrite_replaces_whole_file_atomically(store, tmp_path):
    """A reader holding the old file keeps reading the complete old content:
    the new file was written elsewhere and renamed over it, not truncated."""
    root, uri = store
    artifacts.log_text(uri, "old content", "f.txt")
    with open(root / "f.txt") as reader:
        artifacts.log_text(uri, "new", "f.txt")
        assert reader.read() == "old content"
    assert (root / "f.txt").read_text() == "new"
    assert not [p for p in root.iterdir() if p.name.startswith(artifacts.TMP_PREFIX)]


def test_list_artifacts(store, src):
    root, uri = store
    artifacts.log_artifacts(uri, src)
    (root / (artifacts.TMP_PREFIX + "partial")).write_text("in flight")
    listing = artifacts.list_artifacts(uri)
    assert [(f.path, f.is_dir, f.file_size) for f in listing] == [
        ("a.txt", False, 5),
        ("sub", True, None),
    ]
    assert [f.path for f in artifacts.list_artifacts(uri, "sub")] == ["sub/b.bin"]
    assert artifacts.list_artifacts(uri, "missing") == []


def test_download_artifacts(store, src, tmp_path):
    _, uri = store
    artifacts.log_artifacts(uri, src)
    one = artifacts.download_artifacts(uri, "sub/b.bin", tmp_path / "dl1")
    assert one == tmp_path / "dl1" / "b.bin" and one.read_bytes() == b"\x00\x01beta"
    whole = artifacts.download_artifacts(uri, "", tmp_path / "dl2")
    assert (whole / "sub" / "b.bin").exists() and (whole / "a.txt").read_text() == "alpha"
    with pytest.raises(NotFound):
        artifacts.download_artifacts(uri, "nope.txt")


def test_artifact_root_uris(tmp_path):
    spaced = tmp_path / "with space"
    assert artifacts.artifact_root(spaced.as_uri()) == spaced
    assert artifacts.artifact_root(str(spaced)) == spaced
    for bad in ("s3://bucket/x", "file://otherhost/x"):
        with pytest.raises(InvalidInput):
            artifacts.artifact_root(bad)


def test_missing_source_is_rejected(store, tmp_path):
    _, uri = store
    with pytest.raises(InvalidInput):
        artifacts.log_artifact(uri, tmp_path / "absent.txt")
    with pytest.raises(InvalidInput):
        artifacts.log_artifacts(uri, tmp_path / "absent-dir")


# -- through the run API (real file store) ------------------------------------
@pytest.fixture
def fresh_fluent(tracking_uri):
    yield tracking_uri
    while tracking.active_run():
        tracking.end_run()


def test_fluent_and_client_artifacts(fresh_fluent, src):
    with tracking.start_run() as run:
        tracking.log_artifact(src / "a.txt")
        tracking.log_artifacts(src, "tree")
        tracking.log_text("t", "texts/t.txt")
        tracking.log_dict({"k": 1}, "d.json")
        with pytest.raises(InvalidInput):
            tracking.log_text("evil", "../../../evil.txt")
    client = tracking.Client()
    names = [f.path for f in client.list_artifacts(run.info.run_id)]
    assert names == ["a.txt", "d.json", "texts", "tree"]
    local = client.artifact_path(run.info.run_id)
    assert (local / "tree" / "sub" / "b.bin").read_bytes() == b"\x00\x01beta"
    assert client.artifact_path(run.info.run_id, "texts/t.txt").read_text() == "t"
    with pytest.raises(InvalidInput):
        client.artifact_path(run.info.run_id, "../meta.yaml")
    assert not list(local.parent.parent.rglob("evil.txt"))


@pytest.fixture
def planted_links(store, tmp_path):
    """A run directory holding real artifacts plus links planted by hand: to a
    file and a directory outside the store, to a file inside, and a loop."""
    root, uri = store
    (root / "d").mkdir()
    (root / "d" / "real.txt").write_text("real")
    (root / "top.txt").write_text("top")
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    (secret_dir / "key.pem").write_text("SECRET")
    (tmp_path / "passwd").write_text("SECRET")
    os.symlink(tmp_path / "passwd", root / "d" / "file_out")
    os.symlink(secret_dir, root / "d" / "dir_out")
    os.symlink(root / "top.txt", root / "d" / "file_in")
    os.symlink(root, root / "d" / "loop")
    return root, uri


def _tree(path):
    return sorted(
        (p.relative_to(path).as_posix(), p.read_text() if p.is_file() else None)
        for p in path.rglob("*")
    )


def test_download_directory_skips_links_so_nothing_outside_lands_in_dst(planted_links, tmp_path):
    _root, uri = planted_links
    dst = tmp_path / "dst"
    artifacts.download_artifacts(uri, dst_path=dst)
    assert _tree(dst) == [("d", None), ("d/real.txt", "real"), ("top.txt", "top")]
    assert not any(p.is_symlink() for p in dst.rglob("*"))


def test_download_subdirectory_skips_links_too(planted_links, tmp_path):
    _root, uri = planted_links
    out = artifacts.download_artifacts(uri, "d", tmp_path / "dst")
    assert _tree(out) == [("real.txt", "real")]


def test_download_of_a_link_out_of_the_store_is_refused(planted_links, tmp_path):
    _root, uri = planted_links
    for path in ("d/file_out", "d/dir_out", "d/dir_out/key.pem"):
        with pytest.raises(InvalidInput, match="outside the run's artifact directory"):
            artifacts.download_artifacts(uri, path, tmp_path / "dst")
    assert not (tmp_path / "dst").exists() or _tree(tmp_path / "dst") == []


def test_download_skips_fifos_instead_of_blocking(store, tmp_path):
    root, uri = store
    (root / "f.txt").write_text("f")
    os.mkfifo(root / "pipe")
    out = artifacts.download_artifacts(uri, dst_path=tmp_path / "dst")
    assert _tree(out) == [("f.txt", "f")]


def test_list_artifacts_leaves_out_planted_links(planted_links):
    _root, uri = planted_links
    assert [i.path for i in artifacts.list_artifacts(uri, "d")] == ["d/real.txt"]
