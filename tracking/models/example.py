"""Input examples: `input_example.json` and `serving_input_example.json` in
MLflow's exact shapes, plus the MLmodel `saved_input_example_info` entry.

- DataFrame -> `{"columns": [...], "data": [[...]]}` (split orient, no
  index; `columns` dropped for a default RangeIndex, then orient `values`);
  serving body `{"dataframe_split": ...}`.
- ndarray (and a list of rows, which we store as the array it is) -> nested
  list; serving body `{"inputs": ...}`. A dict of ndarrays -> `{name: list}`.
NaN becomes `null`; numpy scalars, bytes and datetimes are made JSON-able the
way MLflow's encoder does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlcadence.tracking.errors import InvalidInput
from mlcadence.tracking.lazy import LazyModule

pd = LazyModule("pandas")  # imported on first use: numeric serving never needs it

EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


class _Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, (bytes, bytearray)):
            return base64.encodebytes(bytes(o)).decode("ascii")
        if isinstance(o, np.datetime64):
            return np.datetime_as_string(o)
        if isinstance(o, (pd.Timestamp, dt.date, dt.datetime, dt.time)):
            return o.isoformat()
        return super().default(o)


def _nan_to_none(arr: np.ndarray):
    if np.issubdtype(arr.dtype, np.number):
        return np.where(np.isnan(arr), None, arr).tolist()
    return arr.tolist()


def _frame_split(df: pd.DataFrame) -> dict:
    split = df.astype(object).where(df.notnull(), None).to_dict(orient="split")
    del split["index"]
    if list(df.columns) == list(range(len(df.columns))):
        del split["columns"]
    return split


@dataclass
class InputExample:
    """What gets written for one example; `data` is what the model scores."""

    data: object
    stored: object
    serving: dict
    info: dict

    def save(self, model_dir: Path) -> None:
        (model_dir / EXAMPLE_FILE).write_text(json.dumps(self.stored, cls=_Encoder))
        (model_dir / SERVING_EXAMPLE_FILE).write_text(
            json.dumps(self.serving, cls=_Encoder, indent=2)
        )


def make_example(example) -> InputExample:
    info = {"artifact_path": EXAMPLE_FILE, "serving_input_path": SERVING_EXAMPLE_FILE}
    if isinstance(example, pd.Series):
        example = example.to_frame()
    if isinstance(example, (list, tuple)) and not (
        example and all(isinstance(r, Mapping) for r in example)
    ):
        example = np.asarray(example)
    if isinstance(example, pd.DataFrame):
        split = _frame_split(example)
        orient = "split" if "columns" in split else "values"
        return InputExample(
            example,
            split,
            {"dataframe_split": split},
            {**info, "type": "dataframe", "pandas_orient": orient},
        )
    if isinstance(example, np.ndarray):
        stored = _nan_to_none(example)
        return InputExample(example, stored, {"inputs": stored}, {**info, "type": "ndarray"})
    if (
        isinstance(example, Mapping)
        and example
        and all(isinstance(v, np.ndarray) for v in example.values())
    ):
        stored = {k: _nan_to_none(v) for k, v in example.items()}
        return InputExample(example, stored, {"inputs": stored}, {**info, "type": "ndarray"})
    if isinstance(example, (Mapping, list)):
        frame = (
            pd.DataFrame(example)
            if isinstance(example, list)
            else pd.DataFrame(
                [dict(example)] if all(np.isscalar(v) for v in example.values()) else dict(example)
            )
        )
        return InputExample(frame, example, {"inputs": example}, {**info, "type": "json_object"})
    raise InvalidInput(
        f"Cannot store an input example of type {type(example).__name__}. Pass a pandas "
        "DataFrame, a numpy array, a list of rows or a dict of columns."
    )
