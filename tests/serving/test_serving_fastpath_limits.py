"""The verified tree fast path refuses exactly what the estimator refuses:
values that are finite in float64 but not in float32 (the trees' dtype) go to
the estimator, which raises, instead of being predicted."""

from __future__ import annotations

import numpy as np
import pytest

from mlcadence.serving.fastpath import fast_predict, probe_inputs


@pytest.mark.parametrize("value", [1e39, -1e39, np.inf])
def test_fast_path_refuses_what_the_forest_refuses(train_forest, value):
    forest, X = train_forest()
    fast = fast_predict(forest, "predict", probe_inputs(X.shape[1]))
    assert fast is not None
    row = np.ones((1, X.shape[1]))
    row[0, 3] = value
    with pytest.raises(ValueError) as slow_error:
        forest.predict(row)
    with pytest.raises(ValueError) as fast_error:
        fast(row)
    assert str(fast_error.value) == str(slow_error.value)


def test_a_missing_value_gets_the_forests_own_answer(train_forest):
    forest, X = train_forest()
    fast = fast_predict(forest, "predict", probe_inputs(X.shape[1]))
    row = np.ones((1, X.shape[1]))
    row[0, 3] = np.nan
    assert np.array_equal(fast(row), forest.predict(row))


def test_fast_path_still_answers_large_finite_float32_values(train_forest):
    forest, X = train_forest()
    fast = fast_predict(forest, "predict", probe_inputs(X.shape[1]))
    rows = np.full((2, X.shape[1]), 3.0e38)
    assert np.array_equal(fast(rows), forest.predict(rows))
