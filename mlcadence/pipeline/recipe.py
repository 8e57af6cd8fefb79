"""What it takes to rebuild a model from prices: its recipe.

A recipe is an estimator (its class and hyperparameters; a fitted one serves,
it is cloned before every fit) plus the preprocessing in front of it (the
label rule and the feature window) and how its rows were split. A training
run records its recipe as run params (`RECIPE_PARAMS`), so the gate can read
a champion's back and rebuild it on the challenger's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcadence.pipeline import features

if TYPE_CHECKING:
    import pandas as pd

# The run params a recipe is read back from ("window", "split" and
# "test_size" were recorded before the recipe was; "label_rule" is new).
RECIPE_PARAMS = ("window", "label_rule", "split", "test_size")


@dataclass(frozen=True)
class Recipe:
    estimator: Any
    window: int
    label_rule: str
    split: str
    test_size: float

    def rows(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        """(features, labels) of every day of `frame` with a full window."""
        return features.sliding_window(features.label_moves(frame, self.label_rule), self.window)

    def fit(self, X: pd.DataFrame, y: pd.Series):
        """A fresh copy of the estimator, fitted on (X, y)."""
        from sklearn.base import clone

        return clone(self.estimator).fit(X, y)

    def params(self) -> dict[str, Any]:
        """The recipe's run params (`RECIPE_PARAMS`), as training records them."""
        return {name: getattr(self, name) for name in RECIPE_PARAMS}

    def differences(self, other: Recipe) -> list[str]:
        """What makes the two not comparable as they are: a different label
        rule or split method, in words ('split time vs random')."""
        return [
            f"{name} {getattr(self, name)} vs {getattr(other, name)}"
            for name in ("label_rule", "split")
            if getattr(self, name) != getattr(other, name)
        ]


def recorded(params: dict[str, str]) -> tuple[int, str, str, float]:
    """(window, label_rule, split, test_size) from a run's params; KeyError
    names the first one missing, ValueError a malformed one."""
    missing = [name for name in RECIPE_PARAMS if not params.get(name)]
    if missing:
        raise KeyError(missing[0])
    return (
        int(params["window"]),
        params["label_rule"],
        params["split"],
        float(params["test_size"]),
    )
