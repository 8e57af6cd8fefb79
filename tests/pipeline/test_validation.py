import numpy as np
import pandas as pd
import pytest

from mlcadence.pipeline import sources, validation
from mlcadence.pipeline.errors import InvalidData


def ohlc(n=200):
    return sources.load("synthetic:9").frame.iloc[:n]


def test_good_data_passes():
    report = validation.validate(ohlc(), 14, 0.25)
    assert report.rows == 200 and report.samples == 186 and report.columns == ("Open", "Close")


def test_unsorted_dates_fail():
    with pytest.raises(InvalidData, match="not sorted"):
        validation.validate(ohlc().iloc[::-1], 14, 0.25)


def test_duplicate_dates_fail():
    f = ohlc()
    f = pd.concat([f, f.iloc[[5]]]).sort_index()
    with pytest.raises(InvalidData, match="duplicate dates"):
        validation.validate(f, 14, 0.25)


def test_nan_in_used_columns_fails_but_not_elsewhere():
    f = ohlc().copy()
    f.loc[f.index[3], "Volume"] = np.nan
    validation.validate(f, 14, 0.25)  # Volume is not used
    f.loc[f.index[4], "Close"] = np.nan
    with pytest.raises(InvalidData, match="missing value.*Close"):
        validation.validate(f, 14, 0.25)


def test_too_few_rows_says_what_to_do():
    need = validation.required_rows(14, 0.25)
    validation.validate(ohlc(need), 14, 0.25)
    with pytest.raises(InvalidData, match="--window"):
        validation.validate(ohlc(need - 1), 14, 0.25)


def test_all_problems_reported_at_once():
    f = ohlc(20).iloc[::-1].copy()
    f.loc[f.index[0], "Open"] = np.nan
    with pytest.raises(InvalidData) as info:
        validation.validate(f, 14, 0.25)
    assert "not sorted" in info.value.message and "missing" in info.value.message
    assert "rows" in info.value.message
