"""One request's fields, read the way MLflow's server reads them.

POST/PATCH/DELETE bodies are JSON objects; GET fields come from the query
string (a repeated key is a list, as the `requests` library sends it). Proto
JSON allows an int64 as a number or a string, and a double as a number or
"NaN"/"Infinity", so the getters accept both. A missing or ill-typed field is
an `InvalidInput` naming it, which the app turns into a 400 in MLflow's JSON.
"""

from __future__ import annotations

import base64
import json
import math

from mlcadence.tracking.errors import InvalidInput

_MISSING = object()


def missing(name: str) -> InvalidInput:
    return InvalidInput(f"Missing value for required parameter '{name}'.")


def invalid(name: str, value, expected: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid value {value!r} for parameter '{name}' supplied: expected {expected}."
    )


def parse_json_body(raw: bytes) -> dict:
    if not raw or not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"The request body is not valid JSON ({exc}); send a JSON object with the "
            "request's fields."
        ) from None
    if not isinstance(body, dict):
        raise InvalidInput(
            f"The request body must be a JSON object of fields, got {type(body).__name__}."
        )
    return body


def query_fields(multi_items) -> dict:
    fields: dict = {}
    for key, value in multi_items:
        if key in fields:
            old = fields[key]
            fields[key] = [*old, value] if isinstance(old, list) else [old, value]
        else:
            fields[key] = value
    return fields


class Fields:
    """Typed access to a request's fields (and the route's path parameters)."""

    __slots__ = ("data",)

    def __init__(self, data: dict):
        self.data = data

    def str(self, name: str, default=_MISSING, *aliases: str) -> str | None:
        for key in (name, *aliases):
            value = self.data.get(key)
            if value is not None:
                if isinstance(value, bool | dict | list):
                    raise invalid(key, value, "a string")
                return value if isinstance(value, str) else str(value)
        if default is _MISSING:
            raise missing(name)
        return default

    def int(self, name: str, default=_MISSING) -> int | None:
        value = self.data.get(name)
        if value is None:
            if default is _MISSING:
                raise missing(name)
            return default
        if isinstance(value, bool) or isinstance(value, dict | list):
            raise invalid(name, value, "an integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise invalid(name, value, "an integer") from None

    def float(self, name: str, default=_MISSING) -> float | None:
        value = self.data.get(name)
        if value is None:
            if default is _MISSING:
                raise missing(name)
            return default
        return to_float(value, name)

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise invalid(name, value, "true or false")

    def list(self, name: str) -> list:
        value = self.data.get(name)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def objects(self, name: str) -> list[dict]:
        items = self.list(name)
        for item in items:
            if not isinstance(item, dict):
                raise invalid(name, item, "a list of objects")
        return items

    def key_values(self, name: str) -> dict[str, str]:
        """A list of {key, value} objects (tags, params) as a dict."""
        pairs = {}
        for item in self.objects(name):
            key = item.get("key")
            if not isinstance(key, str):
                raise invalid(f"{name}.key", key, "a string")
            value = item.get("value")
            pairs[key] = "" if value is None else str(value)
        return pairs


def to_float(value, name: str) -> float:
    if isinstance(value, bool):
        raise invalid(name, value, "a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # "NaN", "Infinity", "-Infinity" as proto JSON writes them
        except ValueError:
            pass
    raise invalid(name, value, "a number")


def json_float(value: float):
    """A double for the response: proto JSON spells non-finite values as strings."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


# -- pages: an opaque token holding the offset of the next page ---------------
def page_offset(fields: Fields) -> int:
    token = fields.str("page_token", None)
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise InvalidInput(
        f"Invalid page_token {token!r}: pass the next_page_token of the previous response."
    )


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def paginate(items: list, offset: int, max_results: int, key: str) -> dict:
    """`{key: items[offset:offset+max_results]}` plus next_page_token when more remain."""
    page = items[offset : offset + max_results]
    out: dict = {key: page}
    if len(items) > offset + max_results:
        out["next_page_token"] = page_token(offset + max_results)
    return out
