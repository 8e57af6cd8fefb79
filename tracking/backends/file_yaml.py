"""meta.yaml reading and writing, byte-identical to MLflow's `write_yaml`.

MLflow dumps with `yaml.dump(default_flow_style=False, allow_unicode=True,
sort_keys=True)`. Our meta files are flat mappings of simple scalars, which
PyYAML takes ~150 µs to load or dump, too slow for searching 10,000 runs. So
both directions have a fast path for the flat, simple case and fall back to
PyYAML for anything else (nested values, strings needing quotes or folding).
The fast path is tested to give exactly what PyYAML gives.
"""

from __future__ import annotations

import re

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Tokens that PyYAML emits without quotes when they resolve to a string, and
# inside single quotes when they would resolve to something else (a number,
# bool, date...): no spaces, quotes, '#' or flow characters, a harmless first
# character and no trailing ':'. PyYAML's own resolver decides the type.
_TOKEN = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./:@+\-]*(?<!:)")
_resolver = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVES_TO_OTHER_TYPE = frozenset(
    "yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF "
    "null Null NULL".split()
)
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")


def _is_plain_string(text: str) -> bool:
    """True if PyYAML reads the (token) text back as a string."""
    if text[0].isdigit():
        return _resolver.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG
    # A token starting with a letter, '_' or '/' can only resolve to a bool or null.
    return text not in _RESOLVES_TO_OTHER_TYPE


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _NotSimple(Exception):
    pass


def _dump_scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        raise _NotSimple
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if value == "":
            return "''"
        if _TOKEN.fullmatch(value):
            return value if _is_plain_string(value) else f"'{value}'"
        raise _NotSimple
    if value == [] or value == {}:
        return "[]" if isinstance(value, list) else "{}"
    raise _NotSimple


def _dump_key(key) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key) or key in _RESOLVES_TO_OTHER_TYPE:
        raise _NotSimple
    return key


def dump_yaml(data: dict) -> str:
    """The text MLflow's write_yaml produces for `data`."""
    try:
        if not data:
            raise _NotSimple
        return "".join(f"{_dump_key(key)}: {_dump_scalar(data[key])}\n" for key in sorted(data))
    except _NotSimple:
        return yaml.dump(
            data, Dumper=_Dumper, default_flow_style=False, allow_unicode=True, sort_keys=True
        )


def _load_scalar(text: str):
    if text == "null" or text == "~":
        return None
    if text == "''":
        return ""
    if text == "[]":
        return []
    if text == "{}":
        return {}
    if _INT.fullmatch(text):
        return int(text)
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'" and "'" not in text[1:-1]:
        return text[1:-1]
    if _TOKEN.fullmatch(text) and _is_plain_string(text):
        return text
    raise _NotSimple


def load_yaml(text: str) -> dict | None:
    """Parse a meta.yaml; None for an empty file."""
    result: dict = {}
    try:
        for line in text.splitlines():
            key, sep, value = line.partition(": ")
            if not sep or not _KEY.fullmatch(key) or key in _RESOLVES_TO_OTHER_TYPE:
                raise _NotSimple
            result[key] = _load_scalar(value)
    except _NotSimple:
        result = yaml.load(text, Loader=_Loader)
    return result or None
