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


def test_an_unreachable_fred_is_one_sentence_printed_once(
    store, tracking_uri, fred_server, run_command
):
    """Through the real command: Prefect's retry and state lines point at the
    error, which the CLI prints once, as its last line."""
    import os
    import shutil
    import sys

    with fred_server(PRICES) as (url, _):
        pass  # server gone: connection refused on its port
    found = shutil.which("mlcadence")
    head = [found] if found else [sys.executable, "-c", "from mlcadence.cli import main; main()"]
    env = {**os.environ, "MLCADENCE_TRACKING_URI": tracking_uri, "MLCADENCE_FRED_URL": url}
    done = run_command([*head, "train", "--source", "fred:CBBTCUSD"], env=env, timeout=300)
    assert done.returncode == 6
    output = done.stdout + done.stderr
    assert output.count("could not fetch the FRED series CBBTCUSD") == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: could not fetch the FRED series CBBTCUSD from ")
    assert last.endswith(
        "Check the network and the series id. To train without a network, use "
        "--source synthetic:42 or --source csv:PATH."
    )
    assert "Retry 1/3" in output and "(the error below)" in output
