"""Signature enforcement, without HTTP: names, positions, safe coercion, tensors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlcadence.serving.convert import to_model_input
from mlcadence.serving.errors import BadRequest, SchemaMismatch
from mlcadence.serving.model import input_schema
from mlcadence.serving.protocol import parse_content_type, payload_from_json
from mlcadence.tracking.models.signature import Schema


def schema(*specs) -> Schema:
    return input_schema({"signature": {"inputs": json.dumps(list(specs))}})


NUMERIC = schema(
    {"type": "double", "name": "a", "required": True},
    {"type": "long", "name": "b", "required": True},
    {"type": "double", "name": "c", "required": False},
)


def convert(body, s=NUMERIC, want_frame=False):
    return to_model_input(payload_from_json(body), s, want_frame=want_frame)


def test_columns_by_name_are_reordered_and_optional_ones_filled():
    mi = convert({"dataframe_split": {"columns": ["b", "a"], "data": [[2, 1.5]]}})
    assert mi.data[0, :2].tolist() == [1.5, 2.0] and np.isnan(mi.data[0, 2])


def test_columns_by_position():
    assert convert({"inputs": [[1, 2, 3]]}).data.tolist() == [[1.0, 2.0, 3.0]]


def test_safe_coercions_only():
    assert convert({"dataframe_records": [{"a": 1, "b": 2.0}]}).data[0, :2].tolist() == [1.0, 2.0]
    with pytest.raises(SchemaMismatch, match="'b'"):
        convert({"dataframe_records": [{"a": 1, "b": 2.5}]})
    with pytest.raises(SchemaMismatch, match="'a'.*'x'"):
        convert({"dataframe_records": [{"a": "x", "b": 2}]})
    with pytest.raises(SchemaMismatch, match="'b'.*required"):
        convert({"dataframe_split": {"columns": ["a", "b"], "data": [[1, None]]}})


def test_typed_frame_for_text_columns():
    s = schema(
        {"type": "string", "name": "city", "required": True},
        {"type": "long", "name": "n", "required": True},
    )
    mi = convert({"dataframe_records": [{"city": "Oslo", "n": 3}]}, s)
    assert list(mi.data.columns) == ["city", "n"] and str(mi.data["n"].dtype) == "int64"
    with pytest.raises(SchemaMismatch, match="'city'.*text"):
        convert({"dataframe_records": [{"city": 5, "n": 3}]}, s)


def test_tensor_shape_is_checked():
    s = schema({"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2, 2]}})
    mi = convert({"inputs": [[[1, 2], [3, 4]]]}, s)
    assert mi.data.shape == (1, 2, 2) and mi.data.dtype == np.float32
    with pytest.raises(SchemaMismatch, match=r"\[1, 3\].*\[-1, 2, 2\]"):
        convert({"inputs": [[1, 2, 3]]}, s)


@pytest.mark.parametrize(
    ("dtype", "values", "why"),
    [
        ("int32", [[1.7, 2.0]], "fraction"),
        ("int32", [[2**40, 1]], "range"),
        ("uint8", [[-1, 3]], "range"),
        ("float64", [[True, 1.0]], "booleans"),
        ("int64", [["1", "2"]], "text"),
        ("bool", [[1, 0]], "not booleans"),
    ],
)
def test_a_tensor_cast_that_would_change_a_value_is_refused(dtype, values, why):
    s = schema({"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": [-1, 2]}})
    with pytest.raises(SchemaMismatch, match=why):
        convert({"inputs": values}, s)


@pytest.mark.parametrize(
    ("dtype", "values"),
    [
        ("int32", [[1.0, -2.0]]),
        ("float32", [[1, 2]]),
        ("float32", [[0.1, 2.5]]),
        ("bool", [[True, False]]),
    ],
)
def test_a_tensor_cast_that_keeps_every_value_is_accepted(dtype, values):
    s = schema({"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": [-1, 2]}})
    mi = convert({"inputs": values}, s)
    assert mi.data.dtype == np.dtype(dtype)
    np.testing.assert_allclose(mi.data.astype(float), np.array(values, dtype=float), rtol=1e-7)


def test_no_rows_and_unknown_shapes_are_bad_requests():
    with pytest.raises(BadRequest, match="no rows"):
        convert({"data": []})
    with pytest.raises(BadRequest, match="exactly one"):
        payload_from_json({"rows": []})


def test_missing_content_type_means_json():
    assert parse_content_type(None) == "application/json"
    assert parse_content_type("Application/JSON; charset=utf-8") == "application/json"


def test_the_server_reads_the_same_signature_the_pyfunc_loader_enforces(stock_model):
    from mlcadence.serving.model import load
    from mlcadence.tracking.models import load_model

    served = load(str(stock_model)).schema
    assert served == load_model(stock_model).signature.inputs
    assert served.all_numeric and served.names[0] == "lag_0"
