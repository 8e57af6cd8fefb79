"""The estimators a pipeline can train, as a table: name → class and defaults.

Defaults reproduce the book (RandomForestClassifier(n_estimators=50,
random_state=4284)); hyperparameters given by the user override them and are
checked against the estimator's own parameter names.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from mlcadence.pipeline.errors import InvalidConfig
from mlcadence.pipeline.features import BOOK_RANDOM_STATE


@dataclass(frozen=True)
class EstimatorSpec:
    class_path: str  # "module:Class", imported only when used
    defaults: dict[str, Any] = field(default_factory=dict)

    def load_class(self) -> type:
        module, _, name = self.class_path.partition(":")
        return getattr(importlib.import_module(module), name)


ESTIMATORS: dict[str, EstimatorSpec] = {
    "random_forest": EstimatorSpec(
        "sklearn.ensemble:RandomForestClassifier",
        {"n_estimators": 50, "random_state": BOOK_RANDOM_STATE},
    ),
    "logistic_regression": EstimatorSpec(
        "sklearn.linear_model:LogisticRegression",
        {"C": 1.0, "max_iter": 1000},
    ),
    "gradient_boosting": EstimatorSpec(
        "sklearn.ensemble:GradientBoostingClassifier",
        {
            "n_estimators": 100,
            "learning_rate": 0.1,
            "max_depth": 3,
            "random_state": BOOK_RANDOM_STATE,
        },
    ),
}
DEFAULT_ESTIMATOR = "random_forest"


def spec_for(name: str) -> EstimatorSpec:
    spec = ESTIMATORS.get(name)
    if spec is None:
        raise InvalidConfig(f"unknown model {name!r}: use one of {', '.join(ESTIMATORS)}")
    return spec


def resolve_hyperparameters(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults merged with overrides; unknown names are an error, not ignored."""
    spec = spec_for(name)
    overrides = dict(overrides or {})
    known = set(spec.load_class()().get_params(deep=False))
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InvalidConfig(
            f"{name} has no hyperparameter {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return {**spec.defaults, **overrides}


def build(name: str, overrides: dict[str, Any] | None = None):
    """A fresh, unfitted estimator."""
    params = resolve_hyperparameters(name, overrides)
    try:
        return spec_for(name).load_class()(**params)
    except (TypeError, ValueError) as exc:
        raise InvalidConfig(f"{name} rejected hyperparameters {params}: {exc}") from exc


def fit(name: str, overrides: dict[str, Any] | None, X_train, y_train):
    model = build(name, overrides)
    try:
        return model.fit(X_train, y_train)
    except ValueError as exc:
        # sklearn checks most hyperparameter values at fit time.
        raise InvalidConfig(f"{name} could not be trained: {exc}") from exc
