"""The `acquire` cache is keyed by content: real files, a real local HTTP server
(with and without validators) and the local FRED stand-in, through the real
Prefect task on the session's Prefect server."""

from __future__ import annotations

import http.server
import os
import threading
from contextlib import contextmanager
from datetime import date

import pytest
from prefect import flow

from mlcadence.pipeline import sources
from mlcadence.tasks import data

PRICES = "Date,Open,Close\n" + "".join(
    f"2024-01-{day:02d},{100 + day},{101 + day * (-1) ** day}\n" for day in range(1, 29)
)


@pytest.fixture
def cache_dir(prefect_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MLCADENCE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@flow(name="acquire-once")
def acquire_once(source: str, start: str | None = None, end: str | None = None):
    """(the acquire task's final state name, what the run would record)."""
    (acquire,) = data.with_cache_storage(data.acquire)
    state = acquire(source, start, end, return_state=True)
    return state.name, state.result().describe()


def edited(text: str) -> str:
    """`text` with one price changed and the same length."""
    return text.replace("2024-01-05,105", "2024-01-05,195", 1)


def test_an_unchanged_file_is_read_from_the_cache(cache_dir, tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(PRICES)
    first_state, first = acquire_once(f"csv:{path}")
    second_state, second = acquire_once(f"csv:{path}")
    assert (first_state, second_state) == ("Completed", "Cached")
    assert second == first


def test_an_edited_file_is_read_again_even_with_its_size_and_mtime_kept(cache_dir, tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(PRICES)
    _, before = acquire_once(f"csv:{path}")
    stat = path.stat()
    path.write_text(edited(PRICES))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    assert path.stat().st_size == stat.st_size
    state, after = acquire_once(f"csv:{path}")
    assert state == "Completed"
    assert after["digest"] != before["digest"]
    # the recorded digest is the digest of the data in the file now
    assert after["digest"] == sources.load(f"csv:{path}").digest


def test_the_same_relative_path_in_another_folder_is_another_source(
    cache_dir, tmp_path, monkeypatch
):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir(), there.mkdir()
    (here / "prices.csv").write_text(PRICES)
    (there / "prices.csv").write_text(PRICES.rsplit("\n", 6)[0] + "\n")  # 5 days fewer
    monkeypatch.chdir(here)
    _, from_here = acquire_once("csv:prices.csv")
    monkeypatch.chdir(there)
    state, from_there = acquire_once("csv:prices.csv")
    assert state == "Completed"
    assert (from_here["rows"], from_there["rows"]) == ("28", "23")
    assert from_there["digest"] == sources.load(f"csv:{there / 'prices.csv'}").digest


@contextmanager
def csv_server(body: str, *, validators: bool):
    """A local HTTP server for one CSV, whose ETag follows its content when
    `validators`; yields (its URL, a function to replace the body, the methods seen)."""
    state = {"body": body.encode()}
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _head(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(state["body"])))
            if validators:
                self.send_header("ETag", f'"{hash(state["body"]) & 0xFFFFFFFF:x}"')
            self.end_headers()

        def do_HEAD(self):  # noqa: N802 (http.server's name)
            seen.append("HEAD")
            self._head()

        def do_GET(self):  # noqa: N802
            seen.append("GET")
            self._head()
            self.wfile.write(state["body"])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def replace(text: str) -> None:
        state["body"] = text.encode()

    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prices.csv", replace, seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_with_an_etag_is_fetched_again_only_when_the_etag_changes(cache_dir):
    with csv_server(PRICES, validators=True) as (url, replace, seen):
        first_state, first = acquire_once(f"csv:{url}")
        cached_state, cached = acquire_once(f"csv:{url}")
        assert (first_state, cached_state) == ("Completed", "Cached")
        assert cached == first and seen.count("GET") == 1
        replace(edited(PRICES))
        state, after = acquire_once(f"csv:{url}")
    assert state == "Completed" and seen.count("GET") == 2
    assert after["digest"] != first["digest"]


def test_a_url_without_validators_is_never_cached(cache_dir, tmp_path):
    with csv_server(PRICES, validators=False) as (url, replace, seen):
        states = [acquire_once(f"csv:{url}")[0] for _ in range(2)]
        replace(edited(PRICES))
        state, after = acquire_once(f"csv:{url}")
    assert states == ["Completed", "Completed"] and state == "Completed"
    assert seen.count("GET") == 3
    same = tmp_path / "same.csv"
    same.write_text(edited(PRICES))
    assert after["digest"] == sources.load(f"csv:{same}").digest


FRED_CSV = "observation_date,CBBTCUSD\n" + "".join(
    f"2024-01-{day:02d},{100 + day}\n" for day in range(1, 29)
)


def test_fred_with_an_open_end_is_cached_within_the_day(cache_dir, monkeypatch, fred_server):
    with fred_server(FRED_CSV) as (url, seen):
        monkeypatch.setenv("MLCADENCE_FRED_URL", url)
        states = [acquire_once("fred:CBBTCUSD", "2024-01-02")[0] for _ in range(2)]
    assert states == ["Completed", "Cached"] and len(seen) == 1


def test_fred_open_end_key_expires_at_the_next_publication_day():
    key = sources.content_key
    friday, saturday = date(2024, 3, 1), date(2024, 3, 2)
    assert key("fred:X", "2024-01-01", None, friday) == key("fred:X", "2024-01-01", None, friday)
    assert key("fred:X", "2024-01-01", None, friday) != key("fred:X", "2024-01-01", None, saturday)
    # an end date still to come is open too
    assert key("fred:X", None, "2024-03-05", friday) != key("fred:X", None, "2024-03-05", saturday)
    # a closed past range is history: the same key every day
    assert key("fred:X", None, "2024-02-01", friday) == key("fred:X", None, "2024-02-01", saturday)


def test_content_keys_separate_what_differs_and_skip_what_cannot_be_known(tmp_path):
    assert sources.content_key("synthetic:1") == sources.content_key("synthetic:1")
    assert sources.content_key("synthetic:1") != sources.content_key("synthetic:2")
    assert sources.content_key("synthetic:1", end="2020-01-01") != sources.content_key(
        "synthetic:1"
    )
    assert sources.content_key(f"csv:{tmp_path / 'missing.csv'}") is None
    assert sources.content_key("nope:1") is None
