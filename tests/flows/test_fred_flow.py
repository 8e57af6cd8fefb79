"""FRED through the whole training flow: the real pandas-datareader reader
against a local server speaking FRED's CSV format, which fails twice first."""

from __future__ import annotations

import pandas as pd

from mlcadence.flows.training import training

PRICES = "observation_date,CBBTCUSD\n" + "".join(
    f"{day.date()},{'.' if i % 30 == 29 else round(100 + (i * 37 % 11) - 5 + i * 0.1, 2)}\n"
    for i, day in enumerate(pd.date_range("2021-01-01", periods=400, freq="D"))
)


def test_fred_source_is_retried_then_trained_on(store, monkeypatch, run_flow, fred_server):
    with fred_server(PRICES, fail_first=2) as (url, seen):
        monkeypatch.setenv("MLCADENCE_FRED_URL", url)
        result = run_flow(
            training,
            source="fred:CBBTCUSD",
            start="2021-02-01",
            register_as=None,
            refresh_data=True,
        )
    assert len(seen) == 3  # two network failures, retried by the acquire task
    assert result.dataset["source"] == "fred:CBBTCUSD"
    assert result.dataset["start"] == "2021-02-01"
    params = store.get_run(result.run_id).data.params
    assert params["data_source"] == "fred:CBBTCUSD" and int(params["data_rows"]) > 300
