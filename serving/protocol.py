"""The /invocations wire protocol: request body -> `Payload`, predictions -> JSON.

Pure functions, no web framework: the HTTP app and `mlcadence predict` both
call them, so batch scoring and online scoring parse input the same way.

Shapes (MLflow 2+ scoring protocol, plus the seed's legacy shape):
  {"dataframe_split": {"columns": [...], "data": [[...]]}}
  {"dataframe_records": [{...}, ...]}
  {"instances": [...]}          {"inputs": [...] | {"col": [...]}}
  optional "params": {...}
  {"data": [[...]]} / {"columns": [...], "data": [[...]]}   legacy, deprecated
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlcadence.serving.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

try:  # orjson ships with Prefect, so it is normally present; json is the fallback.
    import orjson

    _fast_loads: Callable[[bytes], Any] | None = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None
    _fast_loads = None

FORMAT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
LEGACY_DEPRECATION = (
    'The {"columns": ..., "data": ...} request shape is deprecated (MLflow 1.x); '
    'send {"dataframe_split": {"columns": [...], "data": [[...]]}} instead.'
)
MAX_ECHO = 200  # characters of a bad body quoted back in an error message
# A decoded Parquet cell takes at least this many bytes (a float64 or int64 in
# the frame, more as a Python object); the metadata's own sizes are of encoded
# pages, which run-length encoding makes tiny for a column of zeros.
MIN_CELL_BYTES = 8
# Parquet rows turned into Python lists per step: the thread doing it then
# lets go of the GIL between steps, so the event loop keeps answering.
PARQUET_ROWS_PER_STEP = 4096


@dataclass
class Payload:
    """A request body in one of four normalized forms.

    kind: "rows" (list of rows or scalars, optional column names),
          "records" (list of {column: value}), "columns" ({column: [values]}),
          "tensors" ({name: nested list}).
    """

    kind: str
    data: Any
    columns: list[str] | None = None
    params: dict | None = None
    shape: str = ""
    deprecated: bool = False
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------- content type
def parse_content_type(header: str | None) -> str:
    """The media type to parse with. A missing header is taken as JSON: a client
    that forgot it should get its JSON parsed (or a 400), never a 500."""
    if not header:
        return "application/json"
    mime, *params = header.split(";")
    mime = mime.strip().lower()
    unknown = []
    csv_header = None
    for param in params:
        key, _, value = param.partition("=")
        key = key.strip().lower()
        if not key:
            continue
        if key == "header" and mime == "text/csv":
            csv_header = value.strip().strip('"').lower()
            if csv_header not in CSV_HEADER_VALUES:
                raise UnsupportedMediaType(
                    f"text/csv takes header=present or header=absent (RFC 4180); got "
                    f"header={value.strip()!r}."
                )
        elif key == "charset":
            if value.strip().strip('"').lower() not in ("utf-8", "utf8"):
                raise UnsupportedMediaType(
                    f"The scoring server only supports UTF-8; got charset={value.strip()!r}. "
                    "Send the body as UTF-8."
                )
        else:
            unknown.append(key)
    if unknown:
        raise UnsupportedMediaType(
            f"Unrecognized content type parameters: {', '.join(unknown)}. The request "
            'shape goes in the JSON body now (e.g. {"dataframe_split": ...}), not in '
            "Content-Type parameters."
        )
    if mime not in BODY_PARSERS:
        raise UnsupportedMediaType(
            f"This predictor only supports the following content types: "
            f"{sorted(m for m in BODY_PARSERS if ';' not in m)}. Got {header!r}."
        )
    return f"{mime};header={csv_header}" if csv_header else mime


@dataclass(frozen=True)
class BodyLimits:
    """How much one request body may decode to (the server's `max_rows` and
    `max_decoded_bytes` settings). Each check runs as early as its format
    allows, so an over-limit body is refused before it is decoded."""

    max_rows: int
    max_decoded_bytes: int

    def check_rows(self, rows: int, *, counted_all: bool = True) -> None:
        """`counted_all=False`: counting stopped at `rows`, there may be more."""
        if rows > self.max_rows:
            counted = f"{rows} rows" if counted_all else f"over {self.max_rows} rows"
            raise PayloadTooLarge(
                f"The request has {counted}, more than the limit of {self.max_rows}; split "
                "the input into smaller requests, or raise the limit (--max-rows / "
                "MLCADENCE_SERVING_MAX_ROWS)."
            )

    def check_decoded_bytes(self, size: int) -> None:
        if size > self.max_decoded_bytes:
            raise PayloadTooLarge(
                f"The request body decodes to at least {size} bytes, more than the limit of "
                f"{self.max_decoded_bytes}; split the input into smaller requests, or raise the "
                "limit (--max-decoded-bytes / MLCADENCE_SERVING_MAX_DECODED_BYTES)."
            )


def parse_body(body: bytes, media_type: str, limits: BodyLimits | None = None) -> Payload:
    """The body as a `Payload`; with `limits`, a body over them raises
    `PayloadTooLarge` (413) as soon as that is known."""
    payload = BODY_PARSERS[media_type](body, limits)
    if limits is not None:
        limits.check_rows(row_count(payload))
    return payload


def row_count(payload: Payload) -> int:
    """Rows a payload holds: entries of a list, or the longest column."""
    if isinstance(payload.data, dict):
        return max((len(v) for v in payload.data.values() if isinstance(v, list)), default=0)
    return len(payload.data)


# ------------------------------------------------------------------------ JSON
def loads(body: bytes) -> Any:
    """Parse JSON, fast when orjson is there; NaN/Infinity literals (which
    Python's json and MLflow accept) fall back to the standard parser."""
    if _fast_loads is not None:
        try:
            return _fast_loads(body)
        except ValueError:
            pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        echo = body[:MAX_ECHO].decode("utf-8", "replace")
        raise BadRequest(
            f"Invalid input. Ensure that input is a valid JSON formatted string. "
            f"Error: '{exc}'. Input (first {MAX_ECHO} chars): {echo!r}"
        ) from None


def parse_json_body(body: bytes, limits: BodyLimits | None = None) -> Payload:
    if limits is not None:  # JSON decodes to about its own size: the body bounds it
        limits.check_decoded_bytes(len(body))
    return payload_from_json(loads(body))


def payload_from_json(obj: Any) -> Payload:
    expected = "{" + ", ".join(repr(k) for k in FORMAT_KEYS) + "}"
    if not isinstance(obj, dict):
        got = type(obj).__name__
        raise BadRequest(
            f"Invalid input. The input must be a JSON dictionary with exactly one of the "
            f"input fields {expected}. Received a {'list' if got == 'list' else got}."
        )
    params = obj.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest(
            f"'params' must be a JSON object of parameter values; got {_kind(params)}."
        )
    present = [k for k in FORMAT_KEYS if k in obj]
    if len(present) > 1:
        raise BadRequest(
            f"The input must be a JSON dictionary with exactly one of the input fields "
            f"{expected}. Received dictionary with input fields: {present}."
        )
    if not present:
        if "data" in obj:
            payload = _legacy(obj)
            payload.params = params
            return payload
        raise BadRequest(
            f"The input must be a JSON dictionary with exactly one of the input fields "
            f"{expected}. Received dictionary with input fields: {sorted(map(str, obj))[:10]}. "
            'Example: {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}.'
        )
    key = present[0]
    payload = SHAPE_PARSERS[key](obj[key])
    payload.shape = key
    payload.params = params
    return payload


def _kind(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
        int: "a number",
        float: "a number",
    }
    return names.get(type(value), type(value).__name__)


def _column_names(columns: Any, where: str) -> list[str] | None:
    if columns is None:
        return None
    if not isinstance(columns, list) or not all(isinstance(c, str | int) for c in columns):
        raise BadRequest(f"'{where}.columns' must be a list of column names; got {_kind(columns)}.")
    return [str(c) for c in columns]


def _dataframe_split(value: Any) -> Payload:
    if not isinstance(value, dict):
        raise BadRequest(f"Dataframe split format must be a dictionary. Got {_kind(value)}.")
    if "data" not in value or set(value) - {"data", "columns", "index"}:
        raise BadRequest(
            "Dataframe split format must have 'data' field and optionally 'columns' and "
            f"'index' fields. Got {sorted(map(str, value))}."
        )
    if not isinstance(value["data"], list):
        raise BadRequest(
            f"'dataframe_split.data' must be a list of rows; got {_kind(value['data'])}."
        )
    return Payload("rows", value["data"], _column_names(value.get("columns"), "dataframe_split"))


def _dataframe_records(value: Any) -> Payload:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise BadRequest(
            "Dataframe records format must be a list of records, each a JSON object "
            f"{{column: value}}. Got {_kind(value)}."
        )
    return Payload("records", value)


def _instances(value: Any) -> Payload:
    if not isinstance(value, list):
        raise BadRequest(f"'instances' must be a list (one entry per row); got {_kind(value)}.")
    if value and all(isinstance(r, dict) for r in value):
        return Payload("records", value)
    return Payload("rows", value)


def _inputs(value: Any) -> Payload:
    if isinstance(value, list):
        return _instances(value)
    if isinstance(value, dict):
        if all(isinstance(v, list) for v in value.values()) and value:
            return Payload("columns", value)
        raise BadRequest(
            "'inputs' as an object must map each column (or tensor) name to a list of values; "
            f"got {sorted(map(str, value))[:10]}."
        )
    raise BadRequest(
        f"'inputs' must be a list of rows or an object of columns; got {_kind(value)}."
    )


def _legacy(obj: dict) -> Payload:
    data = obj["data"]
    if not isinstance(data, list):
        raise BadRequest(f"'data' must be a list of rows; got {_kind(data)}.")
    return Payload(
        "rows", data, _column_names(obj.get("columns"), "legacy"), shape="legacy", deprecated=True
    )


SHAPE_PARSERS: dict[str, Callable[[Any], Payload]] = {
    "dataframe_split": _dataframe_split,
    "dataframe_records": _dataframe_records,
    "instances": _instances,
    "inputs": _inputs,
}


# ------------------------------------------------------------------ CSV, parquet
def parse_csv_body(
    body: bytes, limits: BodyLimits | None = None, *, header: bool | None = None
) -> Payload:
    """CSV rows. `header`: whether the first row names the columns; None
    decides from the row itself (see `_is_header`)."""
    import csv

    if limits is not None:  # like JSON, CSV decodes to about its own size
        limits.check_decoded_bytes(len(body))
    most_rows = limits.max_rows + 1 if limits is not None else None  # + the header row
    rows = []
    try:
        for row in csv.reader(io.StringIO(body.decode("utf-8"))):
            if row:
                rows.append(row)
                if most_rows is not None and len(rows) > most_rows:
                    limits.check_rows(len(rows) - 1, counted_all=False)  # raises
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadRequest(
            "Failed to parse input as CSV. Send UTF-8 CSV with a header row, as written by "
            f"pandas.DataFrame.to_csv(index=False). Error: '{exc}'"
        ) from None
    if not rows:
        raise BadRequest("The CSV body is empty; send a header row and at least one data row.")
    if header is None:
        header = _is_header(rows[0])
    names, data = (rows[0], rows[1:]) if header else (None, rows)
    width = len(rows[0])
    for i, row in enumerate(data):
        if len(row) != width:
            first = "the header has" if header else "the first row has"
            raise BadRequest(
                f"CSV row {i + 1} has {len(row)} fields but {first} {width}; "
                "every row needs one value per column."
            )
    return Payload("rows", [[_csv_value(v) for v in row] for row in data], names, shape="csv")


def _is_header(row: list[str]) -> bool:
    """A first row of names is a header; a row of numbers is data (a
    headerless CSV, as a model with a tensor signature is often sent), except
    0, 1, ..., n-1: the names pandas gives the columns of an unnamed array.
    `Content-Type: text/csv; header=present|absent` decides explicitly."""
    if not all(isinstance(_csv_value(cell), int | float) for cell in row):
        return True
    return [cell.strip() for cell in row] == [str(i) for i in range(len(row))]


def _csv_value(text: str) -> Any:
    """CSV cells are text; numbers become numbers, empty cells become null."""
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_parquet_body(body: bytes, limits: BodyLimits | None = None) -> Payload:
    try:
        import pandas as pd
        import pyarrow.parquet as pq

        if limits is not None:
            check_parquet_metadata(pq.ParquetFile(io.BytesIO(body)).metadata, limits)
        frame = pd.read_parquet(io.BytesIO(body))
    except ImportError:
        raise UnsupportedMediaType(
            "Parquet input needs pyarrow where the server runs, and it is not installed "
            "there: pip install 'mlcadence[parquet]' (or pyarrow), or send JSON or CSV."
        ) from None
    except PayloadTooLarge:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is the client's input
        raise BadRequest(f"Failed to parse input as Parquet. Error: '{exc}'") from None
    data: list = []
    for start in range(0, len(frame), PARQUET_ROWS_PER_STEP):
        step = frame.iloc[start : start + PARQUET_ROWS_PER_STEP]
        data.extend(json.loads(step.to_json(orient="values", date_format="iso")))
    return Payload("rows", data, [str(c) for c in frame.columns], shape="parquet")


def check_parquet_metadata(metadata: Any, limits: BodyLimits) -> None:
    """Refuse a Parquet body from its footer alone: a few KiB of compressed
    zeros can declare millions of rows."""
    limits.check_rows(metadata.num_rows)
    encoded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    limits.check_decoded_bytes(
        max(encoded, metadata.num_rows * metadata.num_columns * MIN_CELL_BYTES)
    )


# Media type -> parser(body, limits or None).
CSV_HEADER_VALUES = {"present": True, "absent": False}
BODY_PARSERS: dict[str, Callable[[bytes, BodyLimits | None], Payload]] = {
    "application/json": parse_json_body,
    "text/csv": parse_csv_body,
    **{
        f"text/csv;header={value}": functools.partial(parse_csv_body, header=flag)
        for value, flag in CSV_HEADER_VALUES.items()
    },
    "application/vnd.apache.parquet": parse_parquet_body,
}


# -------------------------------------------------------------------- responses
def dumps(obj: Any) -> bytes:
    if orjson is not None:
        try:
            return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError:
            pass
    return json.dumps(jsonable(obj), allow_nan=True).encode()


def predictions_json(predictions: Any) -> bytes:
    """`{"predictions": ...}` with arrays and frames made JSON, as MLflow does."""
    if orjson is not None and type(predictions).__name__ == "ndarray":
        try:
            return orjson.dumps({"predictions": predictions}, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError:  # object or non-contiguous arrays
            pass
    return dumps({"predictions": jsonable(predictions)})


def jsonable(value: Any) -> Any:
    """numpy/pandas values -> plain Python (DataFrame -> records, like MLflow)."""
    kind = type(value).__name__
    if kind == "DataFrame":
        return [jsonable(r) for r in value.to_dict(orient="records")]
    if kind == "Series":
        return [jsonable({value.name or 0: v}) for v in value.tolist()]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
