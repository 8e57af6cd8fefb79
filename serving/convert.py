"""Payload + signature -> the exact object handed to the model (`ModelInput`).

Columns are matched by name (records, split with columns) or by position
(rows without names); types are coerced only where no information is lost;
a tensor's shape is checked. Numeric tables become a 2-D float array instead
of a DataFrame: that is what a scikit-learn estimator wants anyway, and it is
the cheapest thing to build and to concatenate for micro-batching.
Every rejection is a `SchemaMismatch`/`BadRequest` naming the column or shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlcadence.serving.errors import BadRequest, SchemaMismatch
from mlcadence.serving.protocol import Payload
from mlcadence.serving.schema import INTEGER_TYPES, NUMERIC_TYPES, ColumnSpec, InputSchema

_MISSING = object()


@dataclass
class ModelInput:
    """One request's model input. `batch_key` is None when it cannot share a
    predict call with others (params, named tensors, odd shapes)."""

    data: Any
    n_rows: int
    batch_key: tuple | None
    params: dict | None = None


def to_model_input(payload: Payload, schema: InputSchema | None, *, want_frame: bool) -> ModelInput:
    """`want_frame`: the model needs a pandas DataFrame (generic pyfunc models)
    rather than an array (scikit-learn estimators)."""
    if schema is not None and schema.is_tensor:
        model_input = _tensor_input(payload, schema)
    elif schema is not None and schema.columns:
        rows = _rows_in_schema_order(payload, schema)
        if schema.all_numeric and not want_frame:
            model_input = _numeric_array(rows, schema.columns)
        else:
            model_input = _typed_frame(rows, schema.columns)
    else:
        model_input = _unschematized(payload, want_frame)
    if model_input.n_rows == 0:
        raise BadRequest("The input has no rows; send at least one row to score.")
    if payload.params:
        model_input.params = payload.params
        model_input.batch_key = None
    return model_input


# ----------------------------------------------------------------- column tables
def _rows_in_schema_order(payload: Payload, schema: InputSchema) -> list[list]:
    """Rows holding exactly the schema's columns, in its order (_MISSING where absent)."""
    specs = schema.columns
    names = [c.name for c in specs]
    if payload.kind == "rows":
        rows = payload.data
        if payload.columns is None or not all(names):
            return _positional_rows(rows, specs)
        index = {name: i for i, name in enumerate(payload.columns)}
        if payload.columns == names:
            return _positional_rows(rows, specs)
        _check_required(specs, index)
        picks = [index.get(n) for n in names]
        width = len(payload.columns)
        out = []
        for r, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                raise SchemaMismatch(
                    f"Row {r} must be a list of {width} values, one per column in 'columns'; "
                    f"got {_short(row)}."
                )
            out.append([row[p] if p is not None else _MISSING for p in picks])
        return out
    if payload.kind == "records":
        records = payload.data
        if not all(names):
            raise SchemaMismatch(
                "This model's signature has unnamed columns; send rows by position, e.g. "
                '{"dataframe_split": {"data": [[...]]}}.'
            )
        for r, rec in enumerate(records):
            for spec in specs:
                if spec.required and spec.name not in rec:
                    raise SchemaMismatch(
                        f"Model is missing input column {spec.name!r} (record {r}). Expected "
                        f"columns {schema.describe_columns()}."
                    )
        return [[rec.get(n, _MISSING) for n in names] for rec in records]
    if payload.kind == "columns":
        data = payload.data
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise SchemaMismatch(
                f"All columns in 'inputs' must have the same length; got {sorted(lengths)}."
            )
        _check_required(specs, data)
        n = lengths.pop() if lengths else 0
        cols = [data.get(name) for name in names]
        return [[c[i] if c is not None else _MISSING for c in cols] for i in range(n)]
    raise SchemaMismatch(
        f"This model takes columns {schema.describe_columns()}; send them as "
        '{"dataframe_split": {"columns": [...], "data": [[...]]}}.'
    )


def _check_required(specs: tuple[ColumnSpec, ...], present) -> None:
    missing = [s.name for s in specs if s.required and s.name not in present]
    if missing:
        raise SchemaMismatch(
            f"Model is missing inputs {missing}. Expected columns "
            f"{InputSchema(specs).describe_columns()}."
        )


def _positional_rows(rows: list, specs: tuple[ColumnSpec, ...]) -> list:
    width = len(specs)
    if rows and not isinstance(rows[0], list):
        if width == 1:
            return [[v] for v in rows]
        raise SchemaMismatch(
            f"Each row must be a list of {width} values {InputSchema(specs).describe_columns()}; "
            f"got {_short(rows[0])}. Wrap a single row in a list: [[...]]."
        )
    return rows


def _numeric_array(rows: list, specs: tuple[ColumnSpec, ...]) -> ModelInput:
    width = len(specs)
    try:
        arr = np.array(rows)
        fast = arr.dtype.kind in "biuf" and arr.ndim == 2 and arr.shape[1] == width
    except (ValueError, TypeError, OverflowError, RecursionError):
        fast = False
    if fast:
        arr = arr.astype(np.float64, copy=False)
        if not np.isfinite(arr).all():
            arr = _check_finite(arr, specs)
        _check_integral(arr, specs)
    else:
        arr = _numeric_array_slow(rows, specs)
    return ModelInput(arr, arr.shape[0], ("ndarray", width))


def _check_finite(arr: np.ndarray, specs) -> np.ndarray:
    bad = np.argwhere(~np.isfinite(arr))
    r, c = bad[0]
    spec = specs[c]
    if math.isnan(arr[r, c]) and not spec.required:
        return arr
    raise SchemaMismatch(
        f"Column {spec.describe()} has a non-finite value ({arr[r, c]}) at row {r}; "
        "send finite numbers."
    )


def _check_integral(arr: np.ndarray, specs) -> None:
    int_cols = [i for i, s in enumerate(specs) if s.type in INTEGER_TYPES]
    if not int_cols:
        return
    sub = arr[:, int_cols]
    ok = np.isnan(sub) | (sub == np.trunc(sub))
    if not ok.all():
        r, c = np.argwhere(~ok)[0]
        spec = specs[int_cols[c]]
        raise SchemaMismatch(
            f"Column {spec.describe()} needs whole numbers; row {r} has {sub[r, c]}. "
            "Converting it would lose information."
        )


def _numeric_array_slow(rows: list, specs: tuple[ColumnSpec, ...]) -> np.ndarray:
    """Cell by cell, to say exactly which column and row is wrong."""
    width = len(specs)
    out = np.empty((len(rows), width), dtype=np.float64)
    for r, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise SchemaMismatch(
                f"Row {r} must be a list of {width} values for columns "
                f"{InputSchema(specs).describe_columns()}; got {_short(row)}."
            )
        for c, (value, spec) in enumerate(zip(row, specs, strict=True)):
            out[r, c] = _number(value, spec, r)
    _check_integral(out, specs)
    return out


def _number(value: Any, spec: ColumnSpec, row: int) -> float:
    if value is None or value is _MISSING:
        if spec.required:
            raise SchemaMismatch(
                f"Column {spec.describe()} is required but row {row} has no value."
            )
        return math.nan
    if isinstance(value, bool | int | float):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number) and not (math.isnan(number) and not spec.required):
            raise SchemaMismatch(
                f"Column {spec.describe()} has an out-of-range or non-finite value at row {row}."
            )
        return number
    raise SchemaMismatch(
        f"Column {spec.describe()} expects a number; row {row} has {_short(value)} "
        f"({type(value).__name__}). Failed to convert column {spec.name or '?'} to type "
        f"'{NUMERIC_TYPES[spec.type]}'."
    )


def _typed_frame(rows: list, specs: tuple[ColumnSpec, ...]) -> ModelInput:
    import pandas as pd

    width = len(specs)
    columns: list[list] = [[] for _ in range(width)]
    for r, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise SchemaMismatch(
                f"Row {r} must be a list of {width} values for columns "
                f"{InputSchema(specs).describe_columns()}; got {_short(row)}."
            )
        for c, value in enumerate(row):
            columns[c].append(value)
    data = {}
    for spec, values in zip(specs, columns, strict=True):
        name = spec.name or str(len(data))
        data[name] = _typed_column(values, spec)
    frame = pd.DataFrame(data)
    key = ("frame", tuple(frame.columns), tuple(str(t) for t in frame.dtypes))
    return ModelInput(frame, len(frame), key)


def _typed_column(values: list, spec: ColumnSpec):
    import pandas as pd

    if spec.type in NUMERIC_TYPES:
        arr = np.array([_number(v, spec, r) for r, v in enumerate(values)], dtype=np.float64)
        _check_integral(arr.reshape(-1, 1), (spec,))
        if spec.type == "boolean" or (spec.type in INTEGER_TYPES and not np.isnan(arr).any()):
            return arr.astype(NUMERIC_TYPES[spec.type])
        return arr.astype(
            NUMERIC_TYPES[spec.type] if spec.type in ("double", "float") else "float64"
        )
    if spec.type in ("string", "binary"):
        for r, v in enumerate(values):
            if v is _MISSING or v is None:
                if spec.required:
                    raise SchemaMismatch(
                        f"Column {spec.describe()} is required but row {r} has no value."
                    )
            elif not isinstance(v, str):
                raise SchemaMismatch(
                    f"Column {spec.describe()} expects text; row {r} has {_short(v)}."
                )
        return pd.Series([None if v is _MISSING else v for v in values], dtype=object)
    if spec.type == "datetime":
        try:
            return pd.to_datetime([None if v is _MISSING else v for v in values])
        except (ValueError, TypeError) as exc:
            raise SchemaMismatch(f"Column {spec.describe()} expects ISO dates: {exc}") from None
    # array/object/map/any: pass the JSON values through unchanged.
    return pd.Series([None if v is _MISSING else v for v in values], dtype=object)


# ------------------------------------------------------------------ tensors
def _tensor_input(payload: Payload, schema: InputSchema) -> ModelInput:
    if len(schema.tensors) == 1 and schema.tensors[0].name is None or payload.kind == "rows":
        spec = schema.tensors[0]
        if payload.kind != "rows":
            raise SchemaMismatch(
                f"This model takes one tensor of {spec.dtype} with shape {list(spec.shape)}; send "
                '{"inputs": [[...], ...]}.'
            )
        arr = _tensor(payload.data, spec)
        key = ("tensor", arr.shape[1:], arr.dtype.str) if arr.ndim else None
        return ModelInput(arr, len(arr) if arr.ndim else 1, key)
    if payload.kind != "columns":
        names = [t.name for t in schema.tensors]
        raise SchemaMismatch(
            f'This model takes named tensors {names}; send {{"inputs": {{name: [...]}}}}.'
        )
    tensors = {}
    for spec in schema.tensors:
        if spec.name not in payload.data:
            raise SchemaMismatch(f"Model is missing input tensor {spec.name!r}.")
        tensors[spec.name] = _tensor(payload.data[spec.name], spec)
    first = next(iter(tensors.values()))
    return ModelInput(tensors, len(first) if first.ndim else 1, None)


def _tensor(value: Any, spec) -> np.ndarray:
    try:
        arr = np.array(value, dtype=spec.dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise SchemaMismatch(
            f"Input {spec.name or 'tensor'} must be a rectangular array of {spec.dtype} with shape "
            f"{list(spec.shape)}: {exc}"
        ) from None
    shape = tuple(spec.shape)
    if shape and (
        arr.ndim != len(shape)
        or any(
            want not in (-1, None) and want != got
            for want, got in zip(shape, arr.shape, strict=True)
        )
    ):
        raise SchemaMismatch(
            f"Input {spec.name or 'tensor'} has shape {list(arr.shape)} but the model expects "
            f"{list(shape)} (-1 = any size)."
        )
    return arr


# -------------------------------------------------------------- no signature
def _unschematized(payload: Payload, want_frame: bool) -> ModelInput:
    if payload.kind == "rows":
        rows = payload.data
        if not want_frame:
            try:
                arr = np.array(rows)
            except (ValueError, TypeError, OverflowError, RecursionError):
                arr = None
            if arr is not None and arr.dtype.kind in "biuf" and arr.ndim == 2:
                arr = arr.astype(np.float64, copy=False)
                return ModelInput(arr, arr.shape[0], ("ndarray", arr.shape[1]))
        return _frame(rows, payload.columns)
    if payload.kind == "records":
        return _frame(payload.data, None)
    if payload.kind == "columns":
        lengths = {len(v) for v in payload.data.values()}
        if len(lengths) > 1:
            raise SchemaMismatch(
                f"All columns in 'inputs' must have the same length; got {sorted(lengths)}."
            )
        return _frame(payload.data, None)
    raise BadRequest(f"Unsupported input kind {payload.kind!r}.")


def _frame(data: Any, columns: list[str] | None) -> ModelInput:
    import pandas as pd

    try:
        frame = pd.DataFrame(data, columns=columns)
    except (ValueError, TypeError) as exc:
        raise SchemaMismatch(
            f"The input could not be read as a table: {exc}. Send rows of equal length, "
            "one value per column."
        ) from None
    key = ("frame", tuple(map(str, frame.columns)), tuple(str(t) for t in frame.dtypes))
    return ModelInput(frame, len(frame), key)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
