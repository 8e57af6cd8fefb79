"""The model's input signature, read from the MLmodel `signature` block.

MLflow stores `signature.inputs` as a JSON string of column specs
(`{"type": "double", "name": "a", "required": true}`) or tensor specs
(`{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}`).
We keep our own small reading of it so that serving does not need MLflow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Signature column type -> numpy dtype used when the input becomes an array.
NUMERIC_TYPES: dict[str, str] = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
}
INTEGER_TYPES = frozenset({"long", "integer"})
# Column types pandas holds as objects or datetimes.
OTHER_TYPES: dict[str, str] = {
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}


@dataclass(frozen=True)
class ColumnSpec:
    name: str | None
    type: str
    required: bool = True

    def describe(self) -> str:
        return f"{self.name!r} ({self.type})" if self.name else self.type


@dataclass(frozen=True)
class TensorSpec:
    name: str | None
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class InputSchema:
    columns: tuple[ColumnSpec, ...] = ()
    tensors: tuple[TensorSpec, ...] = ()
    has_params: bool = False

    @property
    def is_tensor(self) -> bool:
        return bool(self.tensors)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.name)

    @property
    def all_numeric(self) -> bool:
        return bool(self.columns) and all(c.type in NUMERIC_TYPES for c in self.columns)

    def describe_columns(self) -> str:
        return "[" + ", ".join(c.describe() for c in self.columns) + "]"

    @classmethod
    def from_metadata(cls, metadata: dict | None) -> InputSchema | None:
        """The schema from an MLmodel dict, or None when it has no signature."""
        signature = (metadata or {}).get("signature") or {}
        raw = signature.get("inputs")
        if not raw:
            return None
        specs = json.loads(raw) if isinstance(raw, str) else raw
        columns: list[ColumnSpec] = []
        tensors: list[TensorSpec] = []
        for spec in specs:
            if spec.get("type") == "tensor":
                ts = spec.get("tensor-spec", {})
                tensors.append(
                    TensorSpec(
                        spec.get("name"), ts.get("dtype", "float64"), tuple(ts.get("shape") or ())
                    )
                )
            else:
                columns.append(
                    ColumnSpec(spec.get("name"), str(spec.get("type")), spec.get("required", True))
                )
        return cls(tuple(columns), tuple(tensors), bool(signature.get("params")))

    def json_schema(self) -> dict:
        """A JSON Schema for one input row, used in the OpenAPI document."""
        if self.is_tensor:
            return {
                "type": "array",
                "description": "tensor "
                + ", ".join(f"{t.name or 'input'}: {t.dtype}{list(t.shape)}" for t in self.tensors),
            }
        props = {c.name or str(i): _json_type(c.type) for i, c in enumerate(self.columns)}
        return {
            "type": "object",
            "properties": props,
            "required": [c.name for c in self.columns if c.required and c.name],
        }


def _json_type(signature_type: str) -> dict:
    table = {
        "double": {"type": "number"},
        "float": {"type": "number"},
        "long": {"type": "integer"},
        "integer": {"type": "integer"},
        "boolean": {"type": "boolean"},
        "string": {"type": "string"},
        "binary": {"type": "string", "format": "byte"},
        "datetime": {"type": "string", "format": "date-time"},
    }
    return table.get(signature_type, {})
