"""How an estimator becomes bytes and back: one table row per format.

Names, file names and semantics are MLflow's sklearn flavor's
(`serialization_format`: cloudpickle | pickle | skops), so a model saved by
either tool loads in the other. cloudpickle is our default (MLflow's is skops)
because it round-trips any estimator, custom classes included; skops is the
safer choice when models come from untrusted places.

Loading takes bytes, not a path: the loader hands over exactly the bytes whose
digest it checked (see `integrity`), so nothing here opens a model file.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlcadence.tracking.errors import InvalidInput, ModelIntegrityError

DEFAULT_FORMAT = "cloudpickle"


@dataclass(frozen=True)
class SerializationFormat:
    name: str
    filename: str
    distribution: str | None  # pinned in requirements.txt; None = stdlib
    dump: Callable[[object, Path, list[str] | None], None]
    loads: Callable[[bytes, list[str] | None], object]


def _dump_pickle(model, path: Path, _trusted=None) -> None:
    with open(path, "wb") as fh:
        pickle.dump(model, fh, protocol=pickle.DEFAULT_PROTOCOL)


def _loads_pickle(data: bytes, _trusted) -> object:
    return pickle.loads(data)


def _dump_cloudpickle(model, path: Path, _trusted=None) -> None:
    import cloudpickle

    with open(path, "wb") as fh:
        cloudpickle.dump(model, fh)


def _loads_cloudpickle(data: bytes, _trusted) -> object:
    import cloudpickle  # registers reducers some pickles need

    return cloudpickle.loads(data)


def _skops_io():
    try:
        import skops.io
    except ImportError:
        raise InvalidInput(
            "The skops format needs the 'skops' package: pip install 'mlcadence[skops]'."
        ) from None
    return skops.io


def _dump_skops(model, path: Path, trusted: list[str] | None = None) -> None:
    """As MLflow does, refuse a file that would not load back: types outside
    skops' default trust must be named by the caller (skops_trusted_types)."""
    sio = _skops_io()
    sio.dump(model, path)
    missing = sorted(set(_untrusted_types(sio, file=path)) - set(trusted or []))
    if missing:
        raise InvalidInput(
            f"The skops file would not load: it contains types skops does not trust by default: "
            f"{missing}. If you trust them, pass skops_trusted_types={missing!r}; or use "
            "serialization_format='cloudpickle'."
        )


def _loads_skops(data: bytes, trusted: list[str] | None) -> object:
    sio = _skops_io()
    try:
        return sio.loads(data, trusted=trusted)
    except Exception as e:  # skops raises UntrustedTypesFoundException (a ValueError)
        untrusted = _untrusted_types(sio, data=data)
        if untrusted:
            raise ModelIntegrityError(
                f"The skops model file contains types that are not trusted: {untrusted}. "
                "If you trust this model, re-save it with skops_trusted_types listing them."
            ) from e
        raise


def _untrusted_types(sio, **source) -> list[str]:
    """`source` is skops' own keyword: file=<path> or data=<bytes>."""
    try:
        return list(sio.get_untrusted_types(**source))
    except Exception:
        return []


FORMATS: dict[str, SerializationFormat] = {
    "cloudpickle": SerializationFormat(
        "cloudpickle", "model.pkl", "cloudpickle", _dump_cloudpickle, _loads_cloudpickle
    ),
    "pickle": SerializationFormat("pickle", "model.pkl", None, _dump_pickle, _loads_pickle),
    "skops": SerializationFormat("skops", "model.skops", "skops", _dump_skops, _loads_skops),
}


def get_format(name: str | None) -> SerializationFormat:
    # MLflow: a flavor without `serialization_format` was written with pickle.
    key = "pickle" if name is None else name
    if key not in FORMATS:
        raise InvalidInput(
            f"Unrecognized serialization format: {name}. Please specify one of the following "
            f"supported formats: {sorted(FORMATS)}."
        )
    return FORMATS[key]
