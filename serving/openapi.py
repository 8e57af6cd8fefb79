"""The /invocations entry of the OpenAPI document, generated from the signature.

FastAPI documents the other endpoints itself; /invocations reads the raw body
(for speed), so its request schema is written here: every accepted request
shape, with rows typed by the model signature and the model's saved serving
input example as the example.
"""

from __future__ import annotations

from typing import Any

from mlcadence.tracking.models.signature import Schema

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["error_code", "message"],
}
ERROR_STATUSES = {
    "400": "Malformed JSON, unknown request shape or input not matching the signature",
    "401": "Missing or wrong bearer token (when the server requires one)",
    "413": "Body larger than the server's limit",
    "415": "Unsupported Content-Type",
    "503": "No model loaded yet",
    "504": "Request took longer than the server's timeout",
}


# Signature column type -> the JSON Schema of one value of it.
JSON_TYPES: dict[str, dict] = {
    "double": {"type": "number"},
    "float": {"type": "number"},
    "long": {"type": "integer"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
    "binary": {"type": "string", "format": "byte"},
    "datetime": {"type": "string", "format": "date-time"},
}


def _row_schemas(schema: Schema | None) -> tuple[dict, dict]:
    """(positional row schema, record schema)."""
    if schema is None or schema.is_tensor:
        return {"type": "array"}, {"type": "object"}
    cells = [JSON_TYPES.get(c.type_name, {}) for c in schema.columns]
    n = len(cells)
    positional = {"type": "array", "prefixItems": cells, "minItems": n, "maxItems": n}
    record = {
        "type": "object",
        "properties": {str(c.name): cell for c, cell in zip(schema.columns, cells, strict=True)},
        "required": [c.name for c in schema.columns if c.required and c.name is not None],
    }
    return positional, record


def request_schema(schema: Schema | None) -> dict:
    row, record = _row_schemas(schema)
    columns = {"type": "array", "items": {"type": "string"}}
    if _column_names(schema):
        columns["example"] = _column_names(schema)
    params = {"type": "object", "description": "Inference parameters (models with a params schema)"}
    shapes = {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": columns,
                "data": {"type": "array", "items": row},
                "index": {"type": "array"},
            },
            "required": ["data"],
        },
        "dataframe_records": {"type": "array", "items": record},
        "instances": {"type": "array", "items": {"anyOf": [row, record]}},
        "inputs": {
            "anyOf": [
                {"type": "array", "items": {"anyOf": [row, record]}},
                {"type": "object", "additionalProperties": {"type": "array"}},
            ]
        },
    }
    variants = [
        {
            "title": key,
            "type": "object",
            "properties": {key: value, "params": params},
            "required": [key],
        }
        for key, value in shapes.items()
    ]
    variants.append(
        {
            "title": "legacy (deprecated)",
            "type": "object",
            "properties": {"columns": columns, "data": {"type": "array", "items": row}},
            "required": ["data"],
            "deprecated": True,
        }
    )
    return {"oneOf": variants}


def invocations_openapi(document: dict[str, Any], model) -> None:
    schema = model.schema if model is not None else None
    json_content: dict[str, Any] = {"schema": request_schema(schema)}
    if model is not None and model.serving_example is not None:
        json_content["example"] = model.serving_example
    responses = {
        "200": {
            "description": "One prediction per input row",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"predictions": {"type": "array"}},
                        "required": ["predictions"],
                    }
                }
            },
        }
    }
    for status, text in ERROR_STATUSES.items():
        responses[status] = {
            "description": text,
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
    document.setdefault("paths", {})["/invocations"] = {
        "post": {
            "summary": "Score input rows with the served model",
            "operationId": "invocations",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": json_content,
                    "text/csv": {"schema": {"type": "string"}, "example": _csv_example(schema)},
                },
            },
            "responses": responses,
        }
    }


def _column_names(schema: Schema | None) -> list[str]:
    if schema is None or schema.is_tensor or not schema.has_names:
        return []
    return [str(name) for name in schema.names]


def _csv_example(schema: Schema | None) -> str:
    names = _column_names(schema)
    if not names:
        return "a,b\n1,2\n"
    return ",".join(names) + "\n" + ",".join("0" for _ in names) + "\n"
