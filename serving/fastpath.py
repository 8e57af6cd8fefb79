"""Leaner predict for tree ensembles, proven equal to the estimator's own.

scikit-learn's forest `predict` dispatches every tree through joblib with a
config/warnings context per tree; for one row that overhead is ~20x the tree
walks themselves. Here the trees are walked together from a flat table
(`tracking.models.forest_table`), with scikit-learn's arithmetic in its order.
A table is only used after it has given exactly the estimator's own answers
on probe inputs; inputs it is not sure about (values not finite in float32,
wrong width) go to the estimator, which also produces the usual error messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from mlcadence.tracking.models.forest_table import ForestTable, compile_verified, probe_inputs

log = logging.getLogger("mlcadence.serving")

__all__ = ["fast_predict", "probe_inputs", "table_predict"]


def table_predict(table: ForestTable, slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """predict(X): the table's answer, or `slow(X)` for inputs the table leaves."""

    def predict(X):
        answer = table.predict(X)
        return slow(X) if answer is None else answer

    return predict


def fast_predict(estimator: Any, method: str, probes: list[np.ndarray]) -> Callable | None:
    """A verified fast predict for `estimator.<method>`, or None."""
    table = compile_verified(estimator, method, probes)
    if table is None:
        log.debug("no fast path for %s.%s", type(estimator).__name__, method)
        return None
    return table_predict(table, getattr(estimator, method))
