"""Source URIs checked without loading: what the CLI runs before Prefect starts."""

from __future__ import annotations

import pytest

from mlcadence.pipeline.errors import InvalidSource
from mlcadence.pipeline.source_check import check_source


@pytest.mark.parametrize(
    "uri,says",
    [
        ("prices.csv", "is not a source URI: use one of fred:SERIES, csv:PATH_OR_URL"),
        ("yahoo:BTC", "is not a source URI"),
        ("csv:", "names no PATH_OR_URL"),
        ("synthetic:seven", "is not an integer: use e.g. synthetic:42"),
        ("fred:CB BTC", "is not a FRED series id"),
        ("csv:missing.csv", "does not exist"),
    ],
)
def test_a_bad_source_says_what_to_write_instead(uri, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidSource, match=says):
        check_source(uri)


def test_a_directory_is_not_a_csv(tmp_path):
    with pytest.raises(InvalidSource, match="is a directory"):
        check_source(f"csv:{tmp_path}")


@pytest.mark.parametrize("uri", ["synthetic:42", "fred:CBBTCUSD", "csv:https://example.org/p.csv"])
def test_good_sources_pass_without_fetching_anything(uri):
    check_source(uri)  # no network needed: URLs and FRED are only looked at


def test_an_existing_csv_passes(tmp_path):
    (tmp_path / "prices.csv").write_text("Date,Close\n2024-01-01,1\n")
    check_source(f"csv:{tmp_path / 'prices.csv'}")
