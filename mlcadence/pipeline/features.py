"""From prices to (features, label): the book's stock-direction problem.

label[t] = 1 when day t moved up, else 0. "Moved up" is close > open when the
source has OHLC prices (as in the book: rule `close_minus_open`), and
close[t] > close[t-1] for single-price series (rule `close_to_close`); the
rule's name is recorded with the run, so the gate can rebuild it. The
features of day t are the labels of the `window` days before it, oldest
first, in columns `lag_<window>` … `lag_1`, so a sample never sees its own
day or anything after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlcadence.pipeline.errors import InvalidConfig, InvalidData

if TYPE_CHECKING:
    import pandas as pd

BOOK_RANDOM_STATE = 4284
DEFAULT_WINDOW = 14
DEFAULT_TEST_SIZE = 0.25


def _close_minus_open(frame: pd.DataFrame) -> pd.Series:
    return frame["Close"] - frame["Open"]


def _close_to_close(frame: pd.DataFrame) -> pd.Series:
    return frame["Close"].diff().iloc[1:]  # the first day has no previous close


@dataclass(frozen=True)
class LabelRule:
    """One definition of "the day moved up": the columns it needs and the move."""

    columns: tuple[str, ...]
    move: Callable[[pd.DataFrame], pd.Series]


# In order of preference: the book's rule when the source has OHLC prices.
LABEL_RULES: dict[str, LabelRule] = {
    "close_minus_open": LabelRule(("Open", "Close"), _close_minus_open),
    "close_to_close": LabelRule(("Close",), _close_to_close),
}


def label_rule_for(frame: pd.DataFrame) -> str:
    """The name of the label rule a frame's columns call for."""
    for name, rule in LABEL_RULES.items():
        if all(column in frame.columns for column in rule.columns):
            return name
    raise InvalidData(f"no Close column (columns: {', '.join(map(str, frame.columns))})")


def label_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The price columns the label is computed from."""
    return LABEL_RULES[label_rule_for(frame)].columns


def label_moves(frame: pd.DataFrame, rule: str | None = None) -> pd.Series:
    """1 when the day moved up, 0 otherwise, indexed by date; by `rule`
    (default: the one the frame's columns call for)."""
    name = rule or label_rule_for(frame)
    chosen = LABEL_RULES.get(name)
    if chosen is None:
        raise InvalidConfig(f"unknown label rule {name!r}: use one of {', '.join(LABEL_RULES)}")
    missing = [column for column in chosen.columns if column not in frame.columns]
    if missing:
        raise InvalidData(
            f"label rule {name} needs the column(s) {', '.join(missing)}, which the data lacks"
        )
    return (chosen.move(frame) > 0).astype("int64").rename("label")


def feature_names(window: int) -> list[str]:
    return [f"lag_{lag}" for lag in range(window, 0, -1)]


def sliding_window(labels: pd.Series, window: int) -> tuple[pd.DataFrame, pd.Series]:
    """X[t] = labels[t-window … t-1], y[t] = labels[t]; one row per day with a full window."""
    import numpy as np
    import pandas as pd

    if window < 1:
        raise InvalidConfig(f"window must be at least 1, got {window}")
    values = labels.to_numpy(dtype="int64")
    if len(values) <= window:
        raise InvalidData(f"{len(values)} labelled days are not enough for window={window}")
    windows = np.lib.stride_tricks.sliding_window_view(values, window)[:-1]
    index = labels.index[window:]
    X = pd.DataFrame(windows.copy(), index=index, columns=feature_names(window))
    y = pd.Series(values[window:], index=index, name="label")
    return X, y


@dataclass
class Split:
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    method: str

    @property
    def sizes(self) -> dict[str, int]:
        return {"train_rows": len(self.X_train), "test_rows": len(self.X_test)}


def split_time(X, y, test_size: float, random_state: int) -> Split:
    """The last `test_size` of days are the test set: no look-ahead."""
    n_test = max(1, int(round(len(X) * test_size)))
    cut = len(X) - n_test
    return Split(X.iloc[:cut], X.iloc[cut:], y.iloc[:cut], y.iloc[cut:], "time")


def split_random(X, y, test_size: float, random_state: int) -> Split:
    """Stratified shuffle split, as the book does (test_size 0.25, random_state 4284)."""
    from sklearn.model_selection import train_test_split

    stratify = y if y.value_counts().min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=stratify
    )
    return Split(X_train, X_test, y_train, y_test, "random")


SPLITTERS: dict[str, Callable[..., Split]] = {"time": split_time, "random": split_random}


def split(
    X: pd.DataFrame,
    y: pd.Series,
    method: str = "time",
    test_size: float = DEFAULT_TEST_SIZE,
    random_state: int = BOOK_RANDOM_STATE,
) -> Split:
    splitter = SPLITTERS.get(method)
    if splitter is None:
        raise InvalidConfig(f"unknown split {method!r}: use one of {', '.join(SPLITTERS)}")
    if not 0 < test_size < 1:
        raise InvalidConfig(f"test_size must be between 0 and 1, got {test_size}")
    result = splitter(X, y, test_size, random_state)
    if result.y_train.nunique() < 2:
        raise InvalidData(
            "the training set holds only one class, so there is nothing to learn: "
            "widen the date range or change the split"
        )
    return result


def prepare(
    frame: pd.DataFrame,
    window: int = DEFAULT_WINDOW,
    method: str = "time",
    test_size: float = DEFAULT_TEST_SIZE,
    random_state: int = BOOK_RANDOM_STATE,
) -> Split:
    """Prices → labels → sliding-window features → train/test split."""
    X, y = sliding_window(label_moves(frame), window)
    return split(X, y, method, test_size, random_state)
