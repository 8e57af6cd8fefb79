"""Estimators, evaluation metrics and the promotion gate."""

import math

import numpy as np
import pandas as pd
import pytest

from mlcadence.pipeline import estimators, evaluation, features, gate, sources
from mlcadence.pipeline.errors import InvalidConfig


@pytest.fixture(scope="module")
def split():
    return features.prepare(sources.load("synthetic:42").frame)


def test_default_is_the_books_random_forest():
    model = estimators.build("random_forest")
    assert type(model).__name__ == "RandomForestClassifier"
    assert model.n_estimators == 50 and model.random_state == 4284


@pytest.mark.parametrize("name", list(estimators.ESTIMATORS))
def test_every_estimator_trains_and_predicts(name, split):
    model = estimators.fit(name, {}, split.X_train, split.y_train)
    assert set(np.unique(model.predict(split.X_test))) <= {0, 1}


def test_overrides_apply_and_unknown_names_fail():
    assert estimators.build("logistic_regression", {"C": 0.5}).C == 0.5
    with pytest.raises(InvalidConfig, match="no hyperparameter n_trees"):
        estimators.build("random_forest", {"n_trees": 5})
    with pytest.raises(InvalidConfig, match="unknown model"):
        estimators.build("svm")


def test_bad_hyperparameter_value_is_invalid_config(split):
    with pytest.raises(InvalidConfig):
        estimators.fit("random_forest", {"n_estimators": -1}, split.X_train, split.y_train)


class Constant:
    def __init__(self, value):
        self.value = value

    def predict(self, X):
        return np.full(len(X), self.value)


def test_metrics_on_a_known_confusion():
    X = pd.DataFrame({"a": range(6)})
    y_test = pd.Series([1, 1, 1, 0, 0, 0])

    class Known:
        def predict(self, X):
            return np.array([1, 1, 0, 0, 0, 1])

    ev = evaluation.evaluate(Known(), X, y_test, y_train=pd.Series([0, 0, 1]))
    assert ev.confusion == [[2, 1], [1, 2]]
    assert ev.metrics["accuracy"] == pytest.approx(4 / 6)
    assert ev.metrics["precision_label_1"] == pytest.approx(2 / 3)
    assert ev.metrics["recall_label_0"] == pytest.approx(2 / 3)
    assert ev.metrics["baseline_accuracy"] == pytest.approx(0.5)  # majority 0
    assert set(ev.metrics) == set(evaluation.METRIC_NAMES)
    assert "up (1)" in ev.report


def test_majority_baseline_shows_a_model_no_better_than_chance(split):
    majority = evaluation.majority_class(split.y_train)
    ev = evaluation.evaluate(Constant(majority), split.X_test, split.y_test, split.y_train)
    assert ev.metrics["accuracy_over_baseline"] == 0.0
    # zero_division=0: a class never predicted scores 0, not NaN
    assert not any(math.isnan(v) for v in ev.metrics.values())


def test_majority_ties_go_to_up():
    assert evaluation.majority_class([0, 1]) == 1
    assert evaluation.majority_class([0, 0, 1]) == 0


@pytest.mark.parametrize(
    "challenger,champion,version,min_imp,expected",
    [
        (0.5, None, None, 0.0, True),  # no champion yet
        (0.5, None, 3, 0.0, True),  # champion without a score
        (0.6, 0.5, 3, 0.0, True),
        (0.5, 0.5, 3, 0.0, False),  # a tie never promotes
        (0.4, 0.5, 3, 0.0, False),
        (0.55, 0.5, 3, 0.05, True),  # exactly the minimum improvement
        (0.54, 0.5, 3, 0.05, False),
    ],
)
def test_gate_decisions(challenger, champion, version, min_imp, expected):
    d = gate.decide("accuracy", challenger, champion, version, min_imp)
    assert d.promote is expected
    assert d.outcome == ("promoted" if expected else "rejected")
    assert d.reason


def test_gate_lower_is_better_and_bad_inputs():
    assert gate.decide("loss", 0.2, 0.3, 1, higher_is_better=False).promote
    assert not gate.decide("loss", 0.4, 0.3, 1, higher_is_better=False).promote
    with pytest.raises(InvalidConfig):
        gate.decide("accuracy", 0.5, 0.4, 1, min_improvement=-1)
    with pytest.raises(InvalidConfig):
        gate.decide("accuracy", float("nan"), 0.4, 1)
    assert gate.decide("accuracy", 0.6, 0.5, 2).as_dict()["improvement"] == pytest.approx(0.1)
