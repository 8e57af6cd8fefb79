"""A source URI checked without fetching anything: the scheme is known, its
argument is well formed, a local CSV exists. Entry points run it before they
start a flow, so a typo fails in a second instead of after Prefect starts."""

from __future__ import annotations

from pathlib import Path

from mlcadence.pipeline.errors import InvalidSource
from mlcadence.pipeline.sources import LOADERS, SOURCE_FORMS


def _forms() -> str:
    return ", ".join(f"{scheme}:{arg}" for scheme, arg in SOURCE_FORMS.items())


def _check_synthetic(seed: str) -> None:
    if not seed.strip().lstrip("-").isdigit():
        raise InvalidSource(
            f"the seed of synthetic:{seed} is not an integer: use e.g. synthetic:42"
        )


def _check_csv(location: str) -> None:
    if location.startswith(("http://", "https://")):
        return  # reachable or not, only fetching tells
    path = Path(location).expanduser()
    if not path.exists():
        raise InvalidSource(
            f"the file {location} does not exist (looked in {path.absolute().parent}): "
            "give the path of an existing CSV file, or an http(s) URL"
        )
    if not path.is_file():
        raise InvalidSource(f"{location} is a directory, not a CSV file: give a file's path")


def _check_fred(series: str) -> None:
    if not series.replace("_", "").isalnum():
        raise InvalidSource(
            f"{series!r} is not a FRED series id (letters and digits, e.g. fred:CBBTCUSD)"
        )


# Scheme -> check of the part after "scheme:".
CHECKS = {"synthetic": _check_synthetic, "csv": _check_csv, "fred": _check_fred}


def check_source(uri: str) -> None:
    """Raise InvalidSource, saying what to write instead, unless `uri` names a
    source that could load."""
    scheme, sep, rest = uri.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in LOADERS:
        raise InvalidSource(f"{uri!r} is not a source URI: use one of {_forms()}")
    if not rest:
        raise InvalidSource(
            f"{uri!r} names no {SOURCE_FORMS.get(scheme, 'argument')}: use one of {_forms()}"
        )
    CHECKS.get(scheme, _loadable)(rest)


def _loadable(rest: str) -> None:
    """A scheme without a check of its own: only loading tells."""
