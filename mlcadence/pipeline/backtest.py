"""Both models scored on the same rows: the gate's evaluation.

Both recipes are rebuilt from the challenger's dataset (each with its own
label rule and window), trained on the same days and scored on the same
days, against the challenger's labels:

- time split (either side): walk-forward folds. The challenger's test days
  are cut into consecutive folds; each fold is predicted by models trained on
  every day before the fold (an expanding window), so nothing is learnt from
  the day being predicted or any later day. The first fold's training days
  are the challenger's own training set.
- random split (both sides): one fold, the challenger's own split.

A refit on the same days is what makes it fair: the champion's fitted model
learnt from other days (possibly the very days scored here), so its recorded
score, or the fitted model scored as it is, would not compare like with like.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from mlcadence.pipeline import evaluation, features
from mlcadence.pipeline.errors import InvalidData
from mlcadence.pipeline.recipe import Recipe

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MIN_FOLD_ROWS = 10  # fewer folds rather than folds too small to score
WALK_FORWARD = "walk-forward"
HOLDOUT = "holdout"


@dataclass
class Fold:
    start: str
    end: str
    rows: int
    train_rows: int
    challenger: dict[str, float]
    champion: dict[str, float]


@dataclass
class Comparison:
    method: str  # WALK_FORWARD or HOLDOUT
    folds: list[Fold]
    y_true: np.ndarray  # every scored day, in fold order
    challenger_predicted: np.ndarray
    champion_predicted: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.y_true)

    def fold_scores(self, side: str, metric: str) -> list[float]:
        return [getattr(fold, side)[metric] for fold in self.folds]

    def spread(self) -> dict[str, dict[str, float]]:
        """Per metric: mean and standard deviation over the folds, both sides."""
        import numpy as np

        summary = {}
        for metric in evaluation.METRIC_NAMES:
            row = {}
            for side in ("challenger", "champion"):
                values = np.asarray(self.fold_scores(side, metric))
                row[f"{side}_mean"] = float(values.mean())
                row[f"{side}_std"] = float(values.std())
            summary[metric] = row
        return summary

    def describe(self) -> str:
        what = f"{len(self.folds)} walk-forward folds" if self.method == WALK_FORWARD else HOLDOUT
        return f"{what}, {self.rows} days"

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "rows": self.rows,
            "folds": [asdict(fold) for fold in self.folds],
            "spread": self.spread(),
        }


def evaluation_folds(
    index: pd.DatetimeIndex, y: pd.Series, time_ordered: bool, test_size: float, folds: int
) -> list[tuple[pd.DatetimeIndex, pd.DatetimeIndex]]:
    """(training days, scored days) per fold over the days of `index`."""
    import numpy as np

    X = y.to_frame()
    if not time_ordered:
        held = features.split(X, y, "random", test_size)
        return [(held.X_train.index, held.X_test.index)]
    test = features.split(X, y, "time", test_size).X_test.index
    count = max(1, min(folds, len(test) // MIN_FOLD_ROWS))
    return [(index[index < chunk[0]], chunk) for chunk in np.array_split(test, count)]


def compare(challenger: Recipe, champion: Recipe, frame: pd.DataFrame, folds: int) -> Comparison:
    """Score both recipes on the same days of `frame` (see the module's doc).
    InvalidData when the data cannot hold the comparison (a label rule's
    columns missing, too few days, one class only in a training fold)."""
    import numpy as np

    X_new, y_new = challenger.rows(frame)
    X_old, y_old = champion.rows(frame)
    days = X_new.index.intersection(X_old.index)
    if len(days) < 2 * MIN_FOLD_ROWS:
        raise InvalidData(f"only {len(days)} days have features for both models")
    time_ordered = "time" in (challenger.split, champion.split)
    plan = evaluation_folds(days, y_new.loc[days], time_ordered, challenger.test_size, folds)
    scored: list[Fold] = []
    truth, new_predicted, old_predicted = [], [], []
    for train, test in plan:
        if y_new.loc[train].nunique() < 2 or y_old.loc[train].nunique() < 2:
            raise InvalidData(f"the days before {test[0].date()} hold only one class")
        new = challenger.fit(X_new.loc[train], y_new.loc[train]).predict(X_new.loc[test])
        old = champion.fit(X_old.loc[train], y_old.loc[train]).predict(X_old.loc[test])
        y_test, y_train = y_new.loc[test], y_new.loc[train]
        scored.append(
            Fold(
                start=test[0].date().isoformat(),
                end=test[-1].date().isoformat(),
                rows=len(test),
                train_rows=len(train),
                challenger=evaluation.scores(y_test, new, y_train),
                champion=evaluation.scores(y_test, old, y_train),
            )
        )
        truth.append(y_test.to_numpy())
        new_predicted.append(np.asarray(new))
        old_predicted.append(np.asarray(old))
    method = WALK_FORWARD if time_ordered else HOLDOUT
    return Comparison(
        method,
        scored,
        np.concatenate(truth),
        np.concatenate(new_predicted),
        np.concatenate(old_predicted),
    )
