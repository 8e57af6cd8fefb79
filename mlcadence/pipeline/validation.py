"""Is this data fit to train on? Checks run before any model is built, so bad
data fails the run early and nothing gets registered."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from mlcadence.pipeline.errors import InvalidData
from mlcadence.pipeline.features import label_columns

# Below these, metrics are noise: a 5-row test set has accuracy steps of 20 %.
MIN_TEST_SAMPLES = 10
MIN_TRAIN_SAMPLES = 20


@dataclass(frozen=True)
class ValidationReport:
    rows: int
    samples: int  # rows that become (window → label) training samples
    columns: tuple[str, ...]


def required_rows(window: int, test_size: float) -> int:
    """Fewest price rows giving enough train and test samples for `window`."""
    samples = max(
        MIN_TRAIN_SAMPLES + MIN_TEST_SAMPLES,
        math.ceil(MIN_TEST_SAMPLES / test_size),
        math.ceil(MIN_TRAIN_SAMPLES / (1 - test_size)),
    )
    # One extra row when labels are close-to-close (the first row has no move).
    return samples + window + 1


def validate(frame: pd.DataFrame, window: int, test_size: float) -> ValidationReport:
    """Raise `InvalidData` listing every problem found, or return a report."""
    problems: list[str] = []
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        problems.append("the index is not dates")
    else:
        if index.has_duplicates:
            dupes = index[index.duplicated()].unique()[:3]
            problems.append(
                "duplicate dates (" + ", ".join(d.date().isoformat() for d in dupes) + ")"
            )
        if not index.is_monotonic_increasing:
            problems.append("dates are not sorted ascending")
    try:
        used = label_columns(frame)
    except InvalidData as exc:
        problems.append(exc.message)
        used = ()
    for column in used:
        nans = int(frame[column].isna().sum())
        if nans:
            first = frame.index[frame[column].isna()][0]
            when = first.date().isoformat() if hasattr(first, "date") else str(first)
            problems.append(f"{nans} missing value(s) in {column} (first on {when})")
    need = required_rows(window, test_size)
    if len(frame) < need:
        problems.append(
            f"{len(frame)} rows, but window={window} with test_size={test_size} needs at least "
            f"{need}: widen the date range (--start/--end) or use a smaller --window"
        )
    if problems:
        raise InvalidData("data failed validation: " + "; ".join(problems))
    return ValidationReport(rows=len(frame), samples=len(frame) - window, columns=tuple(used))
