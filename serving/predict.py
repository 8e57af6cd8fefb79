"""Batch scoring of a file (`mlcadence predict`), through the server's own
parse -> convert -> predict -> encode functions, without HTTP."""

from __future__ import annotations

from pathlib import Path

from mlcadence.serving import protocol
from mlcadence.serving.errors import UnsupportedMediaType
from mlcadence.serving.model import load as load_model
from mlcadence.serving.scoring import score_bytes

# File suffix -> the Content-Type the server would have received.
MEDIA_TYPES = {
    ".json": "application/json",
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
}


def media_type_for(path: Path, content_type: str | None = None) -> str:
    if content_type:
        return protocol.parse_content_type(content_type)
    try:
        return MEDIA_TYPES[path.suffix.lower()]
    except KeyError:
        raise UnsupportedMediaType(
            f"Cannot tell the format of {path.name!r} from its suffix; use one of "
            f"{sorted(MEDIA_TYPES)} or pass --content-type."
        ) from None


def score_file(
    model_uri: str,
    input_path: Path,
    output_path: Path | None,
    content_type: str | None = None,
    *,
    fast_path: bool,
    allow_unverified: bool = False,
) -> bytes:
    """Score a file as POST /invocations would; `fast_path` and
    `allow_unverified` as the server's settings."""
    model = load_model(model_uri, fast_path=fast_path, allow_unverified=allow_unverified)
    result = score_bytes(
        model, Path(input_path).read_bytes(), media_type_for(Path(input_path), content_type)
    )
    if output_path is not None:
        Path(output_path).write_bytes(result)
    return result
