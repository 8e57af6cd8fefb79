"""Payload + signature -> the exact object handed to the model (`ModelInput`).

This module maps each request shape onto the signature: columns are matched
by name (records, split with columns) or by position (rows without names).
The values are then checked and typed by the signature's own rules
(`tracking.models.signature`, the same module that enforces signatures in
`PyFuncModel.predict`): coerced only where no information is lost, a
tensor's shape checked. Numeric tables become a 2-D float array instead of a
DataFrame: that is what a scikit-learn estimator wants anyway, and it is the
cheapest thing to build and to concatenate for micro-batching. Every
rejection is a `SchemaMismatch`/`BadRequest` naming the column or shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlcadence.serving.errors import BadRequest, SchemaMismatch
from mlcadence.serving.protocol import Payload
from mlcadence.tracking.errors import InvalidInput
from mlcadence.tracking.models.signature import (
    MISSING,
    ColSpec,
    Schema,
    describe_specs,
    rows_to_array,
    rows_to_frame,
    short_repr,
    values_to_tensor,
)


@dataclass
class ModelInput:
    """One request's model input. `batch_key` is None when it cannot share a
    predict call with others (params, named tensors, odd shapes)."""

    data: Any
    n_rows: int
    batch_key: tuple | None
    params: dict | None = None


def to_model_input(payload: Payload, schema: Schema | None, *, want_frame: bool) -> ModelInput:
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


def signature_errors(enforce: Callable[..., Any], *args) -> Any:
    """Run one of the signature's value checks; its complaint (which names the
    column or shape) becomes this layer's 400."""
    try:
        return enforce(*args)
    except InvalidInput as exc:
        raise SchemaMismatch(exc.message) from None


# ----------------------------------------------------------------- column tables
def _rows_in_schema_order(payload: Payload, schema: Schema) -> list[list]:
    """Rows holding exactly the schema's columns, in its order (MISSING where absent)."""
    specs = schema.columns
    names = [c.name for c in specs]
    if payload.kind == "rows":
        rows = payload.data
        if payload.columns is None or not schema.has_names:
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
                    f"got {short_repr(row)}."
                )
            out.append([row[p] if p is not None else MISSING for p in picks])
        return out
    if payload.kind == "records":
        records = payload.data
        if not schema.has_names:
            raise SchemaMismatch(
                "This model's signature has unnamed columns; send rows by position, e.g. "
                '{"dataframe_split": {"data": [[...]]}}.'
            )
        for r, rec in enumerate(records):
            for spec in specs:
                if spec.required and spec.name not in rec:
                    raise SchemaMismatch(
                        f"Model is missing input column {spec.name!r} (record {r}). Expected "
                        f"columns {schema.describe()}."
                    )
        return [[rec.get(n, MISSING) for n in names] for rec in records]
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
        return [[c[i] if c is not None else MISSING for c in cols] for i in range(n)]
    raise SchemaMismatch(
        f"This model takes columns {schema.describe()}; send them as "
        '{"dataframe_split": {"columns": [...], "data": [[...]]}}.'
    )


def _check_required(specs: tuple[ColSpec, ...], present) -> None:
    missing = [s.name for s in specs if s.required and s.name not in present]
    if missing:
        raise SchemaMismatch(
            f"Model is missing inputs {missing}. Expected columns {describe_specs(specs)}."
        )


def _positional_rows(rows: list, specs: tuple[ColSpec, ...]) -> list:
    width = len(specs)
    if rows and not isinstance(rows[0], list):
        if width == 1:
            return [[v] for v in rows]
        raise SchemaMismatch(
            f"Each row must be a list of {width} values {describe_specs(specs)}; "
            f"got {short_repr(rows[0])}. Wrap a single row in a list: [[...]]."
        )
    return rows


def _numeric_array(rows: list, specs: tuple[ColSpec, ...]) -> ModelInput:
    arr = signature_errors(rows_to_array, rows, specs)
    return ModelInput(arr, arr.shape[0], ("ndarray", len(specs)))


def _typed_frame(rows: list, specs: tuple[ColSpec, ...]) -> ModelInput:
    frame = signature_errors(rows_to_frame, rows, specs)
    key = ("frame", tuple(frame.columns), tuple(str(t) for t in frame.dtypes))
    return ModelInput(frame, len(frame), key)


# ------------------------------------------------------------------ tensors
def _tensor_input(payload: Payload, schema: Schema) -> ModelInput:
    if len(schema.tensors) == 1 and schema.tensors[0].name is None or payload.kind == "rows":
        spec = schema.tensors[0]
        if payload.kind != "rows":
            raise SchemaMismatch(
                f"This model takes one tensor of {spec.dtype} with shape {list(spec.shape)}; send "
                '{"inputs": [[...], ...]}.'
            )
        arr = signature_errors(values_to_tensor, payload.data, spec)
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
        tensors[spec.name] = signature_errors(values_to_tensor, payload.data[spec.name], spec)
    first = next(iter(tensors.values()))
    return ModelInput(tensors, len(first) if first.ndim else 1, None)


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
