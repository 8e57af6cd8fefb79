import numpy as np
import pandas as pd
import pytest

from mlcadence.pipeline import features, sources
from mlcadence.pipeline.errors import InvalidConfig, InvalidData


def frame(opens, closes):
    idx = pd.date_range("2024-01-01", periods=len(opens), freq="D", name="Date")
    return pd.DataFrame({"Open": opens, "Close": closes}, index=idx)


def test_labels_from_ohlc_use_close_minus_open():
    f = frame([1, 2, 3, 3], [2, 1, 3, 4])
    assert features.label_moves(f).tolist() == [1, 0, 0, 1]


def test_labels_from_single_price_use_close_to_close():
    f = frame([1, 1, 1, 1], [5, 6, 6, 4]).drop(columns="Open")
    labels = features.label_moves(f)
    assert labels.tolist() == [1, 0, 0]
    assert labels.index[0] == f.index[1]


def test_sliding_window_has_no_look_ahead():
    labels = pd.Series(
        [1, 0, 0, 1, 1, 0], index=pd.date_range("2024-01-01", periods=6, name="Date")
    )
    X, y = features.sliding_window(labels, 3)
    assert list(X.columns) == ["lag_3", "lag_2", "lag_1"]
    assert X.values.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert y.tolist() == [1, 1, 0]
    assert list(X.index) == list(labels.index[3:])
    # every feature row is made only of labels strictly before its own date
    for date, row in X.iterrows():
        before = labels[labels.index < date].iloc[-3:]
        assert row.tolist() == before.tolist()


def test_window_too_long_or_zero():
    labels = pd.Series([1, 0], index=pd.date_range("2024-01-01", periods=2))
    with pytest.raises(InvalidData):
        features.sliding_window(labels, 2)
    with pytest.raises(InvalidConfig):
        features.sliding_window(labels, 0)


def test_time_split_keeps_order_and_size():
    s = features.prepare(sources.load("synthetic:3").frame, window=10, method="time", test_size=0.2)
    assert s.X_train.index.max() < s.X_test.index.min()
    total = len(s.X_train) + len(s.X_test)
    assert len(s.X_test) == round(total * 0.2)


def test_random_split_reproduces_sklearn_book_split():
    from sklearn.model_selection import train_test_split

    f = sources.load("synthetic:3").frame
    X, y = features.sliding_window(features.label_moves(f), 14)
    s = features.split(X, y, "random")
    expected = train_test_split(X, y, test_size=0.25, random_state=4284, stratify=y)
    assert s.X_test.index.equals(expected[1].index)
    # stratified: the class balance of both parts is about the same
    assert abs(s.y_train.mean() - s.y_test.mean()) < 0.02


def test_unknown_split_and_bad_test_size():
    X = pd.DataFrame({"a": np.arange(10)})
    y = pd.Series([0, 1] * 5)
    with pytest.raises(InvalidConfig, match="time, random"):
        features.split(X, y, "kfold")
    with pytest.raises(InvalidConfig):
        features.split(X, y, "time", test_size=1.5)


def test_single_class_training_set_is_refused():
    X = pd.DataFrame({"a": np.arange(20)})
    y = pd.Series([0] * 15 + [1] * 5)
    with pytest.raises(InvalidData, match="one class"):
        features.split(X, y, "time", test_size=0.25)
