"""A scikit-learn tree ensemble as flat arrays, predicting without scikit-learn.

Every node of every tree sits in one table (feature, threshold, children,
the leaf's per-tree output), so a batch walks all trees at once: one numpy
step per tree level instead of a Python call per tree. The arithmetic is
scikit-learn's, in its order: inputs cast to float32, `x <= threshold` goes
left, each classifier tree's leaf counts normalized as `predict_proba` does,
the trees' outputs added one after another from zero, then divided by their
number. A table is only ever used after it gave exactly the estimator's own
answers on probe inputs (`compile_verified`); inputs it is not sure about
(non-finite in float32, wrong width, non-numbers) are left to the estimator.

Saved beside the model (`FILE`, listed in the digest manifest), the table
lets a server answer before scikit-learn is even imported.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

FILE = "forest-table.npz"
FORMAT_VERSION = 1

# Estimator class -> whether it is a classifier. Only these are compiled.
SUPPORTED: dict[str, bool] = {
    "RandomForestClassifier": True,
    "ExtraTreesClassifier": True,
    "RandomForestRegressor": False,
    "ExtraTreesRegressor": False,
}


@dataclass(frozen=True)
class ForestTable:
    method: str  # "predict" or "predict_proba"
    n_features: int
    feature: np.ndarray  # (nodes,) int64; 0 at leaves
    threshold: np.ndarray  # (nodes,) float64; +inf at leaves, so a leaf keeps its rows
    left: np.ndarray  # (nodes,) int64; a leaf points at itself
    right: np.ndarray  # (nodes,) int64
    leaf_value: np.ndarray  # (nodes, outputs) float64: one tree's output at that leaf
    roots: np.ndarray  # (trees,) int64
    depth: int
    classes: np.ndarray | None  # classifiers: the estimator's classes_

    def predict(self, X: Any) -> np.ndarray | None:
        """The estimator's answer for `X`, or None when `X` is not a finite
        numeric 2-D array of the right width (the caller asks the estimator)."""
        if (
            not isinstance(X, np.ndarray)
            or X.ndim != 2
            or X.shape[1] != self.n_features
            or X.dtype.kind not in "biuf"
        ):
            return None
        with np.errstate(over="ignore"):
            X32 = np.ascontiguousarray(X, dtype=np.float32)
        if not np.isfinite(X32).all():
            return None
        n, trees = X32.shape[0], self.roots.shape[0]
        flat = X32.ravel()
        # (trees, rows) node indices; a row's values start at row * width.
        node = np.repeat(self.roots[:, np.newaxis], n, axis=1)
        row_start = np.arange(n, dtype=np.int64) * self.n_features
        for _ in range(self.depth):
            goes_left = flat[row_start + self.feature[node]] <= self.threshold[node]
            node = np.where(goes_left, self.left[node], self.right[node])
        # The estimator adds tree after tree to 0.0. A running sum over the
        # tree axis keeps that order (a plain sum may add pairwise); the final
        # + 0.0 stands for the starting zero, which only ever changes -0.0.
        total = np.cumsum(self.leaf_value[node], axis=0)[-1] + 0.0
        mean = total / trees
        if self.classes is None:
            return mean[:, 0]
        if self.method == "predict_proba":
            return mean
        return self.classes.take(np.argmax(mean, axis=1), axis=0)

    # ------------------------------------------------------------ persistence
    def to_bytes(self) -> bytes:
        arrays = {
            "format": np.array(FORMAT_VERSION),
            "method": np.array(self.method),
            "n_features": np.array(self.n_features),
            "depth": np.array(self.depth),
            "feature": self.feature,
            "threshold": self.threshold,
            "left": self.left,
            "right": self.right,
            "leaf_value": self.leaf_value,
            "roots": self.roots,
        }
        if self.classes is not None:
            arrays["classes"] = self.classes
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ForestTable:
        """Raises ValueError on anything but a table this version wrote."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                if int(z["format"]) != FORMAT_VERSION:
                    raise ValueError(f"table format {int(z['format'])}, expected {FORMAT_VERSION}")
                table = cls(
                    method=str(z["method"]),
                    n_features=int(z["n_features"]),
                    feature=z["feature"].astype(np.int64, copy=False),
                    threshold=z["threshold"].astype(np.float64, copy=False),
                    left=z["left"].astype(np.int64, copy=False),
                    right=z["right"].astype(np.int64, copy=False),
                    leaf_value=z["leaf_value"].astype(np.float64, copy=False),
                    roots=z["roots"].astype(np.int64, copy=False),
                    depth=int(z["depth"]),
                    classes=z["classes"] if "classes" in z.files else None,
                )
        except (KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a forest table: {exc}") from exc
        table.check_shape()
        return table

    def check_shape(self) -> None:
        nodes = self.feature.shape[0]
        for name in ("threshold", "left", "right"):
            if getattr(self, name).shape != (nodes,):
                raise ValueError(f"forest table: '{name}' does not have one entry per node")
        if self.leaf_value.ndim != 2 or self.leaf_value.shape[0] != nodes:
            raise ValueError("forest table: 'leaf_value' does not have one row per node")
        for name in ("left", "right", "roots"):
            index = getattr(self, name)
            if index.size and (index.min() < 0 or index.max() >= nodes):
                raise ValueError(f"forest table: '{name}' points outside the table")
        if self.feature.size and (self.feature.min() < 0 or self.feature.max() >= self.n_features):
            raise ValueError("forest table: a node tests a feature the input does not have")
        if self.method not in ("predict", "predict_proba"):
            raise ValueError(f"forest table: unknown method {self.method!r}")


# ----------------------------------------------------------------- compiling
def _tree_rows(tree, classifier: bool, n_classes: int, offset: int):
    t = tree.tree_
    leaf = t.children_left < 0
    index = np.arange(t.node_count, dtype=np.int64) + offset
    left = np.where(leaf, index, t.children_left.astype(np.int64) + offset)
    right = np.where(leaf, index, t.children_right.astype(np.int64) + offset)
    feature = np.where(leaf, 0, t.feature).astype(np.int64)
    threshold = np.where(leaf, np.inf, t.threshold).astype(np.float64)
    value = t.value[:, 0, :]  # one output
    if classifier:
        # DecisionTreeClassifier.predict_proba, applied to every leaf up front.
        proba = value[:, :n_classes].astype(np.float64, copy=True)
        normalizer = proba.sum(axis=1)[:, np.newaxis]
        normalizer[normalizer == 0.0] = 1.0
        out = proba / normalizer
    else:
        out = value[:, :1].astype(np.float64, copy=True)
    return feature, threshold, left, right, out, int(t.max_depth)


def compile_forest(estimator: Any, method: str) -> ForestTable | None:
    """The table of `estimator` for `method`, or None where it has no exact one."""
    classifier = SUPPORTED.get(type(estimator).__name__)
    if classifier is None or getattr(estimator, "n_outputs_", 1) != 1:
        return None
    if method not in (("predict", "predict_proba") if classifier else ("predict",)):
        return None
    width = getattr(estimator, "n_features_in_", None)
    trees = getattr(estimator, "estimators_", None)
    if not isinstance(width, int) or not trees:
        return None
    classes = np.asarray(estimator.classes_) if classifier else None
    if classes is not None and classes.dtype.kind not in "biufU":
        return None  # object labels cannot be stored without pickle
    n_classes = int(getattr(estimator, "n_classes_", 0) or 0)
    parts, roots, depth, offset = [], [], 0, 0
    for tree in trees:
        rows = _tree_rows(tree, classifier, n_classes, offset)
        parts.append(rows[:5])
        roots.append(offset)
        depth = max(depth, rows[5])
        offset += rows[0].shape[0]
    feature, threshold, left, right, leaf_value = (
        np.concatenate(c) for c in zip(*parts, strict=True)
    )
    return ForestTable(
        method=method,
        n_features=width,
        feature=feature,
        threshold=threshold,
        left=left,
        right=right,
        leaf_value=leaf_value,
        roots=np.asarray(roots, dtype=np.int64),
        depth=depth,
        classes=classes,
    )


def probe_inputs(n_features: int, extra: list[Any] = ()) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    probes = [
        rng.normal(size=(64, n_features)),
        rng.integers(0, 2, size=(64, n_features)).astype(float),
        rng.normal(size=(1, n_features)),
    ]
    return probes + [x for x in extra if isinstance(x, np.ndarray)]


def agrees(table: ForestTable, estimator: Any, probes: list[np.ndarray]) -> bool:
    """True when the table gives exactly the estimator's answers on every probe."""
    slow = getattr(estimator, table.method)
    for X in probes:
        fast = table.predict(X)
        if fast is None or not np.array_equal(fast, slow(X)):
            return False
    return True


def compile_verified(estimator: Any, method: str, probes: list[np.ndarray]) -> ForestTable | None:
    """`compile_forest`, kept only if it agrees with the estimator on `probes`."""
    try:
        table = compile_forest(estimator, method)
        if table is not None and agrees(table, estimator, probes):
            return table
    except Exception:  # noqa: BLE001 - any doubt: no table, the estimator answers
        pass
    return None
