"""Model signatures in MLflow's JSON shape: inference, (de)serialization and
enforcement at predict time.

A signature is stored in MLmodel as JSON *strings* (MLflow's
`ModelSignature.to_dict`): a column spec per DataFrame column
(`{"type": "double", "name": "a", "required": true}`) or one tensor spec
per array (`{"type": "tensor", "tensor-spec": {"dtype": "float64",
"shape": [-1, 3]}}`). Key order and `json.dumps` defaults match MLflow so
the text is byte-identical to what `mlflow.models.infer_signature` writes.

Enforcement follows MLflow's rules, with one deliberate widening noted at
`_coerce_column`: int64 values are accepted for double columns when every
value is exactly representable, because JSON clients routinely send `1`
for `1.0`. It has two entry points by the kind of input, with the same rules:
`enforce` for typed data (DataFrames, arrays; `PyFuncModel.predict`), and
`rows_to_array` / `rows_to_frame` / `values_to_tensor` for JSON values (the
scoring server's request rows, checked cell by cell so an error names the row
and column). Both raise `InvalidInput` naming the column or shape expected.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from mlcadence.tracking.errors import InvalidInput
from mlcadence.tracking.lazy import LazyModule

pd = LazyModule("pandas")  # imported on first use: numeric serving never needs it

# MLflow's DataType names -> the numpy dtype a column of that type holds.
COLUMN_TYPES: dict[str, np.dtype] = {
    "boolean": np.dtype("bool"),
    "integer": np.dtype("int32"),
    "long": np.dtype("int64"),
    "float": np.dtype("float32"),
    "double": np.dtype("float64"),
    "string": np.dtype("object"),
    "binary": np.dtype("object"),
    "datetime": np.dtype("datetime64[ns]"),
}

# Column types whose values are numbers (booleans as 0/1), and of those the
# ones that hold whole numbers only.
NUMERIC_TYPES = frozenset({"boolean", "integer", "long", "float", "double"})
INTEGER_TYPES = frozenset({"integer", "long"})

# Largest integer a float64 holds exactly.
_EXACT_FLOAT64_INT = 2**53


@dataclass(frozen=True)
class ColSpec:
    """One column. `type` is an MLflow DataType name, or a dict for the
    nested types (array/object/map/any) which we keep verbatim."""

    type: str | dict
    name: str | int | None = None
    required: bool = True

    @property
    def type_name(self) -> str:
        """The DataType name; for nested types, their kind (array, object, map, any)."""
        return self.type if isinstance(self.type, str) else str(self.type.get("type"))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type} if isinstance(self.type, str) else dict(self.type)
        if self.name is not None:
            d["name"] = self.name
        d["required"] = self.required
        return d

    def describe(self) -> str:
        kind = self.type if isinstance(self.type, str) else json.dumps(self.type)
        label = f"'{self.name}': " if self.name is not None else ""
        return f"{label}{kind}{'' if self.required else ' (optional)'}"


@dataclass(frozen=True)
class TensorSpec:
    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        spec = {"type": "tensor", "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)}}
        return spec if self.name is None else {"name": self.name, **spec}

    def describe(self) -> str:
        label = f"'{self.name}': " if self.name is not None else ""
        return f"{label}Tensor({self.dtype}, {tuple(self.shape)})"


Spec = ColSpec | TensorSpec


@dataclass(frozen=True)
class Schema:
    inputs: list[Spec]

    def __post_init__(self):
        if not self.inputs:
            raise InvalidInput("A schema needs at least one column or tensor spec.")
        kinds = {type(s) for s in self.inputs}
        if len(kinds) > 1:
            raise InvalidInput("A schema cannot mix column specs and tensor specs; use one kind.")
        named = {s.name is not None for s in self.inputs}
        if len(named) > 1:
            raise InvalidInput(
                "A schema cannot mix named and unnamed inputs; name all of them or none."
            )

    @property
    def is_tensor(self) -> bool:
        return isinstance(self.inputs[0], TensorSpec)

    @property
    def has_names(self) -> bool:
        return self.inputs[0].name is not None

    @property
    def names(self) -> list:
        return [s.name for s in self.inputs]

    # Read on every scored request, so computed once per schema.
    @cached_property
    def columns(self) -> tuple[ColSpec, ...]:
        """The column specs (empty for a tensor schema)."""
        return () if self.is_tensor else tuple(self.inputs)  # type: ignore[arg-type]

    @cached_property
    def tensors(self) -> tuple[TensorSpec, ...]:
        """The tensor specs (empty for a column schema)."""
        return tuple(self.inputs) if self.is_tensor else ()  # type: ignore[arg-type]

    @cached_property
    def all_numeric(self) -> bool:
        """Every input is a numeric column: the input can be one float array."""
        return bool(self.columns) and all(c.type_name in NUMERIC_TYPES for c in self.columns)

    @property
    def width(self) -> int | None:
        """Features per row: the columns, or one tensor's last dimension
        (None where that is variable, -1, or there are several tensors)."""
        if not self.is_tensor:
            return len(self.inputs)
        shape = self.tensors[0].shape if len(self.tensors) == 1 else ()
        return shape[-1] if len(shape) > 1 and shape[-1] > 0 else None

    def to_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.inputs])

    @classmethod
    def from_json(cls, text: str) -> Schema:
        return cls([_spec_from_dict(d) for d in json.loads(text)])

    def describe(self) -> str:
        return "[" + ", ".join(s.describe() for s in self.inputs) + "]"


def _spec_from_dict(d: Mapping[str, Any]) -> Spec:
    if d.get("type") == "tensor":
        info = d["tensor-spec"]
        return TensorSpec(dtype=str(info["dtype"]), shape=tuple(info["shape"]), name=d.get("name"))
    rest = {k: v for k, v in d.items() if k not in ("name", "required")}
    kind: str | dict = rest["type"] if set(rest) == {"type"} else rest
    return ColSpec(type=kind, name=d.get("name"), required=bool(d.get("required", True)))


@dataclass(frozen=True)
class Signature:
    inputs: Schema
    outputs: Schema | None = None
    # Inference params are passed through verbatim (JSON text or None):
    # sklearn models take none, but MLflow-written files may carry them.
    params: str | None = field(default=None)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "inputs": self.inputs.to_json(),
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Signature:
        inputs = d.get("inputs")
        if not inputs:
            raise InvalidInput("The signature has no 'inputs'; re-save the model with a signature.")
        outputs = d.get("outputs")
        return cls(
            inputs=Schema.from_json(inputs),
            outputs=Schema.from_json(outputs) if outputs else None,
            params=d.get("params"),
        )


# --------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------
def _numpy_type_name(dtype) -> str:
    """MLflow's DataType name for a numpy/pandas dtype (its sizing rules)."""
    kind, size = dtype.kind, dtype.itemsize
    if kind == "b":
        return "boolean"
    if kind in "iu":
        if size < 4 or (kind == "i" and size == 4):
            return "integer"
        if size < 8 or (kind == "i" and size == 8):
            return "long"
    if kind == "f":
        if size <= 4:
            return "float"
        if size <= 8:
            return "double"
    if kind == "U":
        return "string"
    if kind == "S":
        return "binary"
    if kind == "M":
        return "datetime"
    raise InvalidInput(
        f"Cannot describe values of dtype '{dtype}' in a signature. Convert them to numbers, "
        "booleans, strings or datetimes, or pass an explicit signature."
    )


# Python value type -> DataType, for object columns (checked in this order:
# bool before int because bool is an int). Built on first use: it names pandas.
@functools.cache
def _py_value_types() -> list[tuple[type | tuple[type, ...], str]]:
    return [
        ((bool, np.bool_), "boolean"),
        ((int, np.integer), "long"),
        ((float, np.floating), "double"),
        (str, "string"),
        ((bytes, bytearray), "binary"),
        ((pd.Timestamp, np.datetime64), "datetime"),
    ]


def _is_missing(x) -> bool:
    if isinstance(x, float):
        return np.isnan(x)
    return x is None or x is pd.NA or x is pd.NaT


def _object_column_type(name, values) -> str:
    found = set()
    for v in values:
        if _is_missing(v):
            continue
        for types, type_name in _py_value_types():
            if isinstance(v, types):
                found.add(type_name)
                break
        else:
            raise InvalidInput(
                f"Cannot infer a signature type for column '{name}': it holds "
                f"{type(v).__name__} values. Convert the column to numbers or strings, or pass "
                "an explicit signature."
            )
    if len(found) == 1:
        return found.pop()
    if found == {"long", "double"}:
        return "double"
    if not found:
        raise InvalidInput(
            f"Cannot infer a signature type for column '{name}': every value is missing. "
            "Use a sample with real values, or pass an explicit signature."
        )
    raise InvalidInput(
        f"Cannot infer a signature type for column '{name}': it mixes {sorted(found)}. "
        "Give the column one type."
    )


def _column_type(name, col: pd.Series) -> str:
    if col.dtype.kind == "O":
        col = col.infer_objects()
    if col.dtype.kind == "O":
        return _object_column_type(name, col.tolist())
    return _numpy_type_name(col.dtype)


def _required(col: pd.Series) -> bool:
    return not any(_is_missing(x) for x in col)


def _tensor_dtype_name(dtype: np.dtype) -> str:
    # MLflow strips the length of flexible string dtypes ('<U5' -> 'str').
    if dtype.char == "U":
        return "str"
    if dtype.char == "S":
        return "bytes"
    return dtype.name


def _tensor_spec(arr: np.ndarray, name=None) -> TensorSpec:
    shape = list(arr.shape)
    if not shape:
        raise InvalidInput("Cannot describe a 0-d array as a tensor; pass at least one row.")
    shape[0] = -1  # the batch dimension is variable
    return TensorSpec(dtype=_tensor_dtype_name(arr.dtype), shape=tuple(shape), name=name)


def infer_schema(data) -> Schema:
    """Schema of a DataFrame, Series, ndarray or dict of ndarrays, as MLflow
    infers it. Lists (of rows) are treated as a 2-D array."""
    if isinstance(data, pd.DataFrame):
        return Schema(
            [
                ColSpec(_column_type(c, data[c]), name=c, required=_required(data[c]))
                for c in data.columns
            ]
        )
    if isinstance(data, pd.Series):
        return Schema(
            [ColSpec(_column_type(data.name, data), name=data.name, required=_required(data))]
        )
    if isinstance(data, np.ndarray):
        return Schema([_tensor_spec(data)])
    if isinstance(data, Mapping) and data and all(isinstance(v, np.ndarray) for v in data.values()):
        return Schema([_tensor_spec(v, name=k) for k, v in data.items()])
    if isinstance(data, (list, tuple)):
        return Schema([_tensor_spec(_list_to_array(data))])
    raise InvalidInput(
        f"Cannot infer a signature from {type(data).__name__}. Pass a pandas DataFrame or "
        "Series, a numpy array, a dict of numpy arrays or a list of rows."
    )


def infer_signature(model_input, model_output=None) -> Signature:
    """Like `mlflow.models.infer_signature(X, y)`: the same JSON text.
    (No inference params: scikit-learn's predict takes none.)"""
    outputs = infer_schema(_as_output(model_output)) if model_output is not None else None
    return Signature(inputs=infer_schema(model_input), outputs=outputs)


def _as_output(y):
    # A plain list of labels is one unnamed column, as in MLflow.
    if isinstance(y, (list, tuple)) and y and not isinstance(y[0], (list, tuple)):
        return pd.Series(y)
    return y


def output_for_inference(inputs: Schema, prediction):
    """MLflow treats a 1-D prediction for column-based inputs as one column
    (a Series), not a tensor; mirror that when inferring at save time."""
    if not inputs.is_tensor and isinstance(prediction, np.ndarray) and prediction.ndim == 1:
        return pd.Series(prediction)
    return prediction


def _list_to_array(rows) -> np.ndarray:
    try:
        arr = np.asarray(rows)
    except ValueError as e:
        raise InvalidInput(
            f"Rows of different lengths cannot form a table ({e}). Send every row with the same "
            "number of values."
        ) from None
    if arr.dtype == object:
        raise InvalidInput(
            "The list input mixes value types or row lengths. Send a list of rows with the same "
            "number of values, or a DataFrame-shaped dict."
        )
    return arr


# --------------------------------------------------------------------------
# enforcement
# --------------------------------------------------------------------------
def _bad(message: str, schema: Schema) -> InvalidInput:
    return InvalidInput(f"{message} The model expects: {schema.describe()}.")


def _coerce_column(name, values: pd.Series, type_name: str, schema: Schema) -> pd.Series:
    """MLflow's allowed conversions: exact match; object/str -> string;
    same-kind upcasts (int32->long, float32->double); small ints -> double;
    any datetime precision -> datetime. Plus int64 -> double when every
    value is exactly representable (MLflow accepts only 0/1 there)."""
    if isinstance(type_name, dict):  # nested types: passed through unchecked
        return values
    target = COLUMN_TYPES[type_name]
    if values.dtype == object and type_name not in ("string", "binary"):
        values = values.infer_objects()
    dtype = values.dtype
    if type_name in ("string", "binary"):
        if dtype.kind in "OSU" or isinstance(dtype, pd.StringDtype):
            bad = [
                v
                for v in values
                if not _is_missing(v)
                and not isinstance(v, (str,) if type_name == "string" else (bytes, str))
            ]
            if not bad:
                return values
        raise _bad(f"Column '{name}' must hold {type_name} values but has dtype {dtype}.", schema)
    if type_name == "datetime":
        if dtype.kind in "MO":
            try:
                return values.astype("datetime64[ns]")
            except (TypeError, ValueError) as e:
                raise _bad(f"Column '{name}' cannot be read as datetimes ({e}).", schema) from None
        raise _bad(f"Column '{name}' must hold datetimes but has dtype {dtype}.", schema)
    if dtype == target:
        return values
    if type_name == "boolean" and dtype.kind == "O":
        return values  # None stays None rather than becoming False
    kind = dtype.kind
    if kind == target.kind and dtype.itemsize <= target.itemsize:
        return values.astype(target)
    if kind == "u" and target.kind == "i" and dtype.itemsize < target.itemsize:
        return values.astype(target)
    if kind in "iu" and target == np.float64:
        if dtype.itemsize <= 4 or bool((values.abs() <= _EXACT_FLOAT64_INT).all()):
            return values.astype(target)
    hint = ""
    if kind == "f" and target.kind in "iu" and values.hasnans:
        hint = (
            " It holds missing values, which integer columns cannot represent: fill them, or "
            "save the model with a signature that declares this column as double."
        )
    raise _bad(
        f"Column '{name}' has dtype {dtype}, which cannot be converted to {type_name} without "
        f"losing information (only widening conversions are allowed).{hint}",
        schema,
    )


def _to_frame(data, schema: Schema) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, Mapping):
        if all(np.isscalar(v) or v is None for v in data.values()):
            return pd.DataFrame([dict(data)])
        return pd.DataFrame(dict(data))
    if isinstance(data, (list, tuple)):
        if data and all(isinstance(r, Mapping) for r in data):
            return pd.DataFrame(list(data))
        if data and all(isinstance(r, (list, tuple)) for r in data):
            # Row by row, so each column keeps its own type ([1.0, 1] -> double, long).
            if len({len(r) for r in data}) != 1:
                raise _bad("Rows of the list input have different lengths.", schema)
            return pd.DataFrame(list(data))
        data = _list_to_array(data)
    if isinstance(data, np.ndarray):
        if data.ndim == 1:
            data = data.reshape(-1, 1) if len(schema.inputs) == 1 else data.reshape(1, -1)
        if data.ndim != 2:
            raise _bad(f"Got an array of shape {data.shape}; a table needs 2 dimensions.", schema)
        return pd.DataFrame(data)
    raise _bad(
        f"Cannot score input of type {type(data).__name__}. Pass a DataFrame, a numpy array, "
        "a list of rows, a list of records or a dict of columns.",
        schema,
    )


def _unnamed(columns: pd.Index) -> bool:
    return all(isinstance(c, (int, np.integer)) for c in columns) and list(columns) == list(
        range(len(columns))
    )


def _enforce_columns(data, schema: Schema) -> pd.DataFrame:
    frame = _to_frame(data, schema)
    specs: list[ColSpec] = schema.inputs  # type: ignore[assignment]
    if schema.has_names:
        names = schema.names
        missing = [s.name for s in specs if s.required and s.name not in frame.columns]
        if missing and _unnamed(frame.columns) and len(frame.columns) == len(specs):
            # No names on the input and the right count: match by position.
            frame = frame.set_axis(names, axis=1)
            missing = []
        if missing and _unnamed(frame.columns):
            raise _bad(
                f"Input has {len(frame.columns)} unnamed column(s); unnamed columns are matched "
                f"by position only when there are exactly {len(specs)}. Send named columns.",
                schema,
            )
        if missing:
            extra = [c for c in frame.columns if c not in names]
            note = f" The input has columns {list(frame.columns)}" + (
                f" (not in the signature: {extra})." if extra else "."
            )
            raise _bad(f"Input is missing required column(s) {missing}.{note}", schema)
        present = [s for s in specs if s.name in frame.columns]
        out = {s.name: _coerce_column(s.name, frame[s.name], s.type, schema) for s in present}
        # Signature order, extra columns dropped: what the model was trained on.
        return pd.DataFrame(out, index=frame.index)
    if len(frame.columns) < len(specs):
        raise _bad(
            f"Input has {len(frame.columns)} column(s) but the model needs {len(specs)}.", schema
        )
    out = {
        c: _coerce_column(c, frame[c], s.type, schema)
        for c, s in zip(frame.columns[: len(specs)], specs, strict=True)
    }
    return pd.DataFrame(out, index=frame.index)


def _enforce_tensor(data, schema: Schema) -> np.ndarray:
    if len(schema.inputs) != 1 or schema.has_names:
        raise _bad(
            "This model takes named tensors, which sklearn models do not use; load it with "
            "mlflow.pyfunc instead.",
            schema,
        )
    spec: TensorSpec = schema.inputs[0]  # type: ignore[assignment]
    if isinstance(data, (pd.DataFrame, pd.Series)):
        arr = data.to_numpy()
    elif isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, (list, tuple)):
        arr = _list_to_array(data)
    else:
        raise _bad(
            f"Cannot score input of type {type(data).__name__}. Pass a numpy array, a DataFrame "
            "or a list of rows.",
            schema,
        )
    want = np.dtype(spec.dtype)
    if arr.dtype != want:
        exact_ints = (
            arr.dtype.kind in "iu"
            and want == np.float64
            and bool((np.abs(arr) <= _EXACT_FLOAT64_INT).all())
        )
        if np.can_cast(arr.dtype, want, "safe") or exact_ints:
            arr = arr.astype(want)
        else:
            raise _bad(
                f"Input dtype {arr.dtype} cannot be converted to {want} without losing "
                "information (only widening conversions are allowed).",
                schema,
            )
    shape = tuple(spec.shape)
    if arr.ndim != len(shape) or any(
        w not in (-1, g) for w, g in zip(shape, arr.shape, strict=True)
    ):
        raise _bad(f"Input has shape {arr.shape}, not {shape} (-1 = any size).", schema)
    return arr


def enforce(data, schema: Schema | None):
    """`data` converted to what the model was trained on, or InvalidInput
    saying what is wrong. Without a schema, lists become arrays and dicts
    DataFrames; everything else passes as is."""
    if schema is None:
        if isinstance(data, (list, tuple)):
            return _list_to_array(data)
        if isinstance(data, Mapping):
            return (
                pd.DataFrame(dict(data))
                if not all(np.isscalar(v) for v in data.values())
                else pd.DataFrame([dict(data)])
            )
        return data
    return _enforce_tensor(data, schema) if schema.is_tensor else _enforce_columns(data, schema)


# --------------------------------------------------------------------------
# enforcement of JSON values (the scoring server's request rows)
# --------------------------------------------------------------------------
# A cell the request did not send (an optional column left out).
MISSING = object()


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe_specs(specs) -> str:
    return "[" + ", ".join(s.describe() for s in specs) + "]"


def rows_to_array(rows: list, specs: tuple[ColSpec, ...]) -> np.ndarray:
    """Rows of JSON numbers (in `specs` order) as one float64 array: the
    cheapest input to build, check and batch for a numeric scikit-learn model."""
    width = len(specs)
    try:
        arr = np.array(rows)
        fast = arr.dtype.kind in "biuf" and arr.ndim == 2 and arr.shape[1] == width
    except (ValueError, TypeError, OverflowError, RecursionError):
        fast = False
    if fast and (arr.dtype.kind == "b" or _any_bool(rows)) and not _all_boolean(specs):
        # numpy reads [true, 1] as [1, 1]; the cell-by-cell path says which
        # column got a boolean it does not take.
        fast = False
    if fast and arr.dtype.kind in "biu":
        # JSON integers: finite and whole by construction, nothing to check.
        arr = arr.astype(np.float64)
    elif fast:
        arr = arr.astype(np.float64, copy=False)
        if not np.isfinite(arr).all():
            arr = _check_finite(arr, specs)
        _check_integral(arr, specs)
    else:
        arr = _numeric_array_slow(rows, specs)
    return arr


def _any_bool(rows: list) -> bool:
    return any(type(v) is bool for row in rows for v in row)


def _all_boolean(specs) -> bool:
    return all(s.type_name == "boolean" for s in specs)


def _check_finite(arr: np.ndarray, specs) -> np.ndarray:
    bad = np.argwhere(~np.isfinite(arr))
    r, c = bad[0]
    spec = specs[c]
    if math.isnan(arr[r, c]) and not spec.required:
        return arr
    raise InvalidInput(
        f"Column {spec.describe()} has a non-finite value ({arr[r, c]}) at row {r}; "
        "send finite numbers."
    )


def _check_integral(arr: np.ndarray, specs) -> None:
    int_cols = [i for i, s in enumerate(specs) if s.type_name in INTEGER_TYPES]
    if not int_cols:
        return
    sub = arr[:, int_cols]
    ok = np.isnan(sub) | (sub == np.trunc(sub))
    if not ok.all():
        r, c = np.argwhere(~ok)[0]
        spec = specs[int_cols[c]]
        raise InvalidInput(
            f"Column {spec.describe()} needs whole numbers; row {r} has {sub[r, c]}. "
            "Converting it would lose information."
        )


def _numeric_array_slow(rows: list, specs: tuple[ColSpec, ...]) -> np.ndarray:
    """Cell by cell, to say exactly which column and row is wrong."""
    width = len(specs)
    out = np.empty((len(rows), width), dtype=np.float64)
    for r, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidInput(
                f"Row {r} must be a list of {width} values for columns "
                f"{describe_specs(specs)}; got {short_repr(row)}."
            )
        for c, (value, spec) in enumerate(zip(row, specs, strict=True)):
            out[r, c] = _number(value, spec, r)
    _check_integral(out, specs)
    return out


def _number(value: Any, spec: ColSpec, row: int) -> float:
    if value is None or value is MISSING:
        if spec.required:
            raise InvalidInput(f"Column {spec.describe()} is required but row {row} has no value.")
        return math.nan
    if isinstance(value, bool) and spec.type_name != "boolean":
        raise InvalidInput(
            f"Column {spec.describe()} expects a number; row {row} has {short_repr(value)} "
            f"(bool). Incompatible input types: a boolean is not a "
            f"'{COLUMN_TYPES[spec.type_name]}'; send {int(value)} instead."
        )
    if isinstance(value, bool | int | float):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number) and not (math.isnan(number) and not spec.required):
            raise InvalidInput(
                f"Column {spec.describe()} has an out-of-range or non-finite value at row {row}."
            )
        return number
    raise InvalidInput(
        f"Column {spec.describe()} expects a number; row {row} has {short_repr(value)} "
        f"({type(value).__name__}). Failed to convert column {spec.name or '?'} to type "
        f"'{COLUMN_TYPES[spec.type_name]}'."
    )


def rows_to_frame(rows: list, specs: tuple[ColSpec, ...]) -> pd.DataFrame:
    """Rows of JSON values (in `specs` order) as a DataFrame typed by the signature."""
    width = len(specs)
    columns: list[list] = [[] for _ in range(width)]
    for r, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidInput(
                f"Row {r} must be a list of {width} values for columns "
                f"{describe_specs(specs)}; got {short_repr(row)}."
            )
        for c, value in enumerate(row):
            columns[c].append(value)
    data = {}
    for spec, values in zip(specs, columns, strict=True):
        name = spec.name or str(len(data))
        data[name] = _typed_column(values, spec)
    return pd.DataFrame(data)


def _typed_column(values: list, spec: ColSpec):
    kind = spec.type_name
    if kind in NUMERIC_TYPES:
        arr = np.array([_number(v, spec, r) for r, v in enumerate(values)], dtype=np.float64)
        _check_integral(arr.reshape(-1, 1), (spec,))
        if kind == "boolean" or (kind in INTEGER_TYPES and not np.isnan(arr).any()):
            return arr.astype(COLUMN_TYPES[kind])
        return arr.astype(COLUMN_TYPES[kind] if kind in ("double", "float") else "float64")
    if kind in ("string", "binary"):
        for r, v in enumerate(values):
            if v is MISSING or v is None:
                if spec.required:
                    raise InvalidInput(
                        f"Column {spec.describe()} is required but row {r} has no value."
                    )
            elif not isinstance(v, str):
                raise InvalidInput(
                    f"Column {spec.describe()} expects text; row {r} has {short_repr(v)}."
                )
        return pd.Series([None if v is MISSING else v for v in values], dtype=object)
    if kind == "datetime":
        try:
            return pd.to_datetime([None if v is MISSING else v for v in values])
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"Column {spec.describe()} expects ISO dates: {exc}") from None
    # array/object/map/any: pass the JSON values through unchanged.
    return pd.Series([None if v is MISSING else v for v in values], dtype=object)


def _lossy_tensor_cast(raw: np.ndarray, want: np.dtype) -> str | None:
    """Why casting JSON values `raw` to `want` would change them, or None.
    Numbers may round to a float type's precision (the client declared it);
    they may not lose their fraction, wrap around, or turn into booleans, and
    booleans and text are not numbers."""
    have = raw.dtype.kind
    if want.kind == "b":
        return None if have == "b" else f"{raw.dtype} values are not booleans"
    if have in "bUS":
        return f"{'booleans' if have == 'b' else 'text values'} are not {want} numbers"
    if want.kind in "iu" and have in "iuf" and raw.size:
        if have == "f" and not (np.isfinite(raw).all() and (raw == np.trunc(raw)).all()):
            return f"values with a fraction would be truncated to {want}"
        limits = np.iinfo(want)
        if raw.min() < limits.min or raw.max() > limits.max:
            return f"values outside {want}'s range [{limits.min}, {limits.max}] would wrap around"
    return None


def _holds_bool(value: Any, depth: int) -> bool:
    """Whether nested lists `depth` deep hold a JSON boolean anywhere."""
    if depth <= 0:
        return type(value) is bool
    if depth == 1:
        return any(type(v) is bool for v in value)
    return any(_holds_bool(v, depth - 1) for v in value)


def values_to_tensor(value: Any, spec: TensorSpec) -> np.ndarray:
    """Nested JSON lists as the array a tensor spec describes (dtype and shape
    checked); a cast that would change a value is refused, as pyfunc does."""
    want = np.dtype(spec.dtype)
    try:
        if want.kind in "biuf":
            raw = np.array(value)
            if raw.dtype.kind == "O":
                raise ValueError("the nested lists are ragged or mix types")
            if raw.dtype.kind != "b" and _holds_bool(value, raw.ndim):
                # numpy reads [true, 1.0] as [1.0, 1.0]; the JSON said boolean.
                raw = np.array(value, dtype=bool) if raw.size == 0 else raw.astype(bool)
            lossy = _lossy_tensor_cast(raw, want)
            if lossy:
                raise InvalidInput(
                    f"Input {spec.name or 'tensor'} must hold {want} values: {lossy}. Send "
                    f"values of the model's type ({want})."
                )
            arr = raw.astype(want)
        else:
            arr = np.array(value, dtype=want)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(
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
        raise InvalidInput(
            f"Input {spec.name or 'tensor'} has shape {list(arr.shape)} but the model expects "
            f"{list(shape)} (-1 = any size)."
        )
    return arr
