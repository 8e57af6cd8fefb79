"""Sources: the URI table, each loader, and FRED through the real reader
against a local server speaking FRED's CSV format."""

from __future__ import annotations

import pandas as pd
import pytest

from mlcadence.pipeline import sources
from mlcadence.pipeline.errors import DataUnavailable, InvalidSource


def test_synthetic_is_deterministic_ohlcv():
    a, b, c = (
        sources.load("synthetic:42"),
        sources.load("synthetic:42"),
        sources.load("synthetic:43"),
    )
    assert list(a.frame.columns) == list(sources.OHLCV)
    assert a.digest == b.digest != c.digest
    assert a.frame.index.is_monotonic_increasing and a.frame.index.name == "Date"
    assert (a.frame["High"] >= a.frame[["Open", "Close"]].max(axis=1)).all()
    assert (a.frame["Low"] <= a.frame[["Open", "Close"]].min(axis=1)).all()


def test_date_range_is_inclusive():
    ds = sources.load("synthetic:1", start="2020-01-05", end="2020-02-04")
    assert (ds.start, ds.end, ds.rows) == ("2020-01-05", "2020-02-04", 31)
    assert ds.describe()["rows"] == "31"


@pytest.mark.parametrize(
    "uri", ["nope:1", "synthetic", "synthetic:", "synthetic:abc", "csv:/no/such.csv"]
)
def test_bad_uris_say_what_to_use(uri):
    with pytest.raises(InvalidSource) as info:
        sources.load(uri)
    assert "synthetic" in info.value.message or "csv" in info.value.message


def test_bad_date_is_rejected():
    with pytest.raises(InvalidSource, match="YYYY-MM-DD"):
        sources.load("synthetic:1", start="yesterday-ish")


def test_csv_ohlcv_with_any_case(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "date,OPEN,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1.5,2,1,1.2,11\n"
    )
    ds = sources.load(f"csv:{path}")
    assert list(ds.frame.columns) == list(sources.OHLCV)
    assert ds.frame["Close"].tolist() == [1.5, 1.2]


def test_csv_single_price_column_becomes_close(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("observation_date,CBBTCUSD\n2024-01-02,100\n2024-01-03,.\n2024-01-04,102\n")
    ds = sources.load(f"csv:{path}")
    assert list(ds.frame.columns) == ["Close"]
    # a csv keeps its gaps: validation, not the loader, decides about them
    assert ds.frame["Close"].isna().sum() == 1


def test_csv_without_date_column_fails(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidSource, match="no Date column"):
        sources.load(f"csv:{path}")


def test_digest_does_not_depend_on_the_loader(tmp_path):
    ds = sources.load("synthetic:5", end="2019-03-01")
    path = tmp_path / "same.csv"
    ds.frame.to_csv(path)
    assert sources.load(f"csv:{path}").digest == ds.digest


# -- FRED ---------------------------------------------------------------------
FRED_CSV = "observation_date,CBBTCUSD\n" + "".join(
    f"{day.date()},{'.' if i % 7 == 6 else 100 + i}\n"
    for i, day in enumerate(pd.date_range("2024-01-01", periods=60, freq="D"))
)


def test_fred_through_the_real_reader(monkeypatch, fred_server):
    with fred_server(FRED_CSV) as (url, seen):
        monkeypatch.setenv("MLCADENCE_FRED_URL", url)
        ds = sources.load("fred:CBBTCUSD", start="2024-01-03", end="2024-02-10")
    assert seen and seen[0].startswith("/graph/fredgraph.csv?id=CBBTCUSD")
    assert list(ds.frame.columns) == ["Close"]
    assert ds.start == "2024-01-03" and ds.end == "2024-02-10"
    # FRED's "." days are gaps, dropped and counted
    assert ds.dropped_missing == 5 and ds.rows == 39 - 5
    assert not ds.frame["Close"].isna().any()


def test_fred_unreachable_names_the_offline_sources(monkeypatch, fred_server):
    with fred_server(FRED_CSV) as (url, _):
        pass  # server gone: connection refused on its port
    monkeypatch.setenv("MLCADENCE_FRED_URL", url)
    with pytest.raises(DataUnavailable) as info:
        sources.load("fred:CBBTCUSD")
    assert "synthetic:42" in info.value.message and "csv:" in info.value.message


def test_fred_http_error_is_unavailable_not_synthetic(monkeypatch, fred_server):
    with fred_server(body="Internal error", status=500) as (url, _):
        monkeypatch.setenv("MLCADENCE_FRED_URL", url)
        with pytest.raises(DataUnavailable, match="CBBTCUSD"):
            sources.load("fred:CBBTCUSD")
