"""MLflow's rules for keys, names and values, checked before anything is written."""

from __future__ import annotations

import numbers
import posixpath
import re
import warnings

from mlcadence.tracking.conventions import MANIFEST_DIGEST_TAG
from mlcadence.tracking.errors import InvalidInput

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
# A run's name is also its `mlflow.runName` tag, so it shares the tag limit.
MAX_RUN_NAME_LENGTH = MAX_TAG_VAL_LENGTH
# Model names and keys become file names in the file store, where a name has
# at most 255 bytes (not characters: 'ä' takes two).
MAX_MODEL_NAME_BYTES = 255
MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_TOTAL = 1000
MAX_ARTIFACT_LOCATION_LENGTH = 2048
# Stages whose other versions `archive_existing_versions` may archive.
ARCHIVABLE_STAGES = ("Staging", "Production")

_KEY_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_EXPERIMENT_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")
_ALIAS_RE = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")


def validate_key(key: str, what: str = "key") -> str:
    """Metric, param and tag keys double as file names in the file store, so a
    key must not be able to name any other path (`../x`, `/etc`, `a//b`)."""
    if key is None or key == "":
        raise InvalidInput(
            f"Invalid value \"\" for parameter '{what}' supplied: A key name must be provided."
        )
    if not isinstance(key, str):
        raise InvalidInput(f"Invalid {what} {key!r}: keys must be strings.")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise InvalidInput(
            f"'{what}' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} characters"
        )
    size = _utf8_size(key, what)
    if size > MAX_ENTITY_KEY_LENGTH:
        raise InvalidInput(
            f"'{what}' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} bytes in UTF-8 "
            f"({size} bytes: non-ASCII letters take 2-4 bytes each); shorten it."
        )
    if not _KEY_RE.match(key):
        raise InvalidInput(
            f"Invalid value \"{key}\" for parameter '{what}' supplied: Names may only contain "
            "alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
        )
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise InvalidInput(
            f"Invalid value \"{key}\" for parameter '{what}' supplied: Names may be treated as files "
            "in certain cases, and must not resolve to other names when treated as such. "
            f"This name would resolve to '{norm}'. Rename the {what} without '..', leading '/' or '//'."
        )
    return key


def _utf8_size(text: str, what: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(
            f"Invalid {what} {text!r}: it is not valid Unicode text (a lone surrogate)."
        ) from None


def validate_metric(key: str, value, timestamp, step) -> tuple[str, float, int, int]:
    validate_key(key, "metric key")
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        and not hasattr(value, "__float__")
    ):
        raise InvalidInput(
            f"Invalid value {value!r} for metric '{key}' (timestamp={timestamp}). "
            "Please specify value as a valid double (64-bit floating point)."
        )
    try:
        fvalue = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Invalid value {value!r} for metric '{key}': {exc}. Log a number."
        ) from None
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or timestamp < 0:
        raise InvalidInput(
            f"Invalid timestamp {timestamp!r} for metric '{key}': use epoch milliseconds >= 0."
        )
    if (
        isinstance(step, bool)
        or not isinstance(step, (int, float))
        or (isinstance(step, float) and not step.is_integer())
    ):
        raise InvalidInput(f"Invalid step {step!r} for metric '{key}': use an integer.")
    return key, fvalue, int(timestamp), int(step)


def _truncate(value: str, limit: int, what: str) -> str:
    if len(value) <= limit:
        return value
    warnings.warn(f"{what} is longer than {limit} characters and was truncated.", stacklevel=3)
    return value[:limit]


def _no_nul(text: str, what: str) -> str:
    # PostgreSQL text cannot hold NUL, so no store may take it: one rule for all.
    if "\x00" in text:
        raise InvalidInput(f"{what} contains a NUL character, which no store keeps; remove it.")
    return text


def validate_param(key: str, value) -> tuple[str, str]:
    validate_key(key, "param key")
    text = _no_nul(str(value), f"Param value of '{key}'")
    return key, _truncate(text, MAX_PARAM_VAL_LENGTH, f"Param value of '{key}'")


def validate_tag(key: str, value) -> tuple[str, str]:
    validate_key(key, "tag key")
    text = _no_nul("" if value is None else str(value), f"Tag value of '{key}'")
    return key, _truncate(text, MAX_TAG_VAL_LENGTH, f"Tag value of '{key}'")


def validate_registry_tag(key: str, value) -> tuple[str, str]:
    """Tags of registered models and versions: MLflow refuses None and allows
    longer values than run tags."""
    validate_key(key, "tag key")
    if value is None:
        raise InvalidInput(f"Tag value cannot be None (tag '{key}'); pass a string.")
    text = _no_nul(str(value), f"Tag value of '{key}'")
    if len(text) > MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH:
        raise InvalidInput(
            f"Tag '{key}' value exceeds the maximum length of "
            f"{MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH} characters; shorten it."
        )
    return key, text


def validate_editable_version_tag(key: str) -> str:
    """A version tag a caller may set or delete: not the digest pin, which
    only registration writes (editing it would let a rewritten model load)."""
    if key == MANIFEST_DIGEST_TAG:
        raise InvalidInput(
            f"The version tag '{key}' pins the model's manifest digest at registration and "
            "cannot be set or deleted. To serve changed model files, register them as a new "
            "version (`register_model`)."
        )
    return key


def validate_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise InvalidInput(f"Invalid value \"{run_id}\" for parameter 'run_id' supplied.")
    return run_id


def validate_experiment_id(experiment_id: str) -> str:
    if not isinstance(experiment_id, str) or not _EXPERIMENT_ID_RE.match(experiment_id):
        raise InvalidInput(f"Invalid experiment ID: '{experiment_id}'")
    return experiment_id


def validate_experiment_name(name: str) -> str:
    if not isinstance(name, str):
        raise InvalidInput(f"Invalid experiment name: {name!r}. Expects a string.")
    if not name.strip():
        raise InvalidInput(f"Invalid experiment name: '{name}'. Give a non-empty name.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidInput(
            f"'name' exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters"
        )
    return name


def validate_run_name(name: str | None) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        raise InvalidInput(f"Invalid run name {name!r}: give a string.")
    if len(name) > MAX_RUN_NAME_LENGTH:
        raise InvalidInput(
            f"Run name exceeds the maximum length of {MAX_RUN_NAME_LENGTH} characters "
            f"({len(name)}); shorten it."
        )
    return _no_nul(name, "Run name")


def validate_model_name(name: str) -> str:
    if not name or not isinstance(name, str):
        raise InvalidInput("Missing value for required parameter 'name'.")
    if any(ord(ch) < 32 for ch in name):
        raise InvalidInput(
            f"Invalid model name {name!r}: it contains a control character (NUL, newline, ...)."
        )
    size = _utf8_size(name, "model name")
    if size > MAX_MODEL_NAME_BYTES:
        raise InvalidInput(
            f"Model name is {size} bytes in UTF-8; the limit is {MAX_MODEL_NAME_BYTES}. "
            "Choose a shorter name."
        )
    if "/" in name or ":" in name:
        raise InvalidInput(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if "\\" in name or "%" in name or name in (".", "..") or posixpath.normpath(name) != name:
        raise InvalidInput(f"Invalid model name '{name}'. Use letters, digits, '-', '_' or '.'.")
    return name


def validate_alias(alias: str) -> str:
    if not alias:
        raise InvalidInput("Registered model alias name cannot be empty.")
    if len(alias) > 255 or not _ALIAS_RE.match(alias):
        raise InvalidInput(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), dashes (-)."
        )
    if alias.lower() == "latest":
        raise InvalidInput("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS_RE.match(alias):
        raise InvalidInput(f"Version alias name '{alias}' is reserved.")
    return alias


_VERSION_TEXT_RE = re.compile(r"[0-9]+")


def validate_version(version) -> int:
    """A version number: an int, or its ASCII digits exactly (int() would also
    read ' 1 ', '١' and '0_1' as 1)."""
    if isinstance(version, numbers.Integral) and not isinstance(version, bool):
        number = int(version)
    elif isinstance(version, str) and _VERSION_TEXT_RE.fullmatch(version):
        number = int(version)
    else:
        raise InvalidInput(
            f"Parameter 'version' must be an integer (ASCII digits), got {version!r}."
        )
    if number < 1:
        raise InvalidInput(f"Parameter 'version' must be a positive integer, got '{version}'.")
    return number


def validate_batch(metrics, params, tags) -> None:
    """Batch size limits and one value per param key (MLflow's rules for log_batch)."""
    for entity, items, limit in (
        ("metrics", metrics, MAX_BATCH_METRICS),
        ("params", params, MAX_BATCH_PARAMS),
        ("tags", tags, MAX_BATCH_TAGS),
    ):
        if len(items) > limit:
            raise InvalidInput(
                f"A batch logging request can contain at most {limit} {entity}. Got {len(items)} "
                f"{entity}. Please split up {entity} across multiple requests and try again."
            )
    total = len(metrics) + len(params) + len(tags)
    if total > MAX_BATCH_TOTAL:
        raise InvalidInput(
            f"A batch logging request can contain at most {MAX_BATCH_TOTAL} total entities. Got "
            f"{total}. Please split the batch across multiple requests and try again."
        )
    keys = [p.key for p in params]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise InvalidInput(
            f"Duplicate parameter keys have been submitted: {dupes}. Please ensure the request "
            "contains only one param value per param key."
        )


def validate_artifact_location(location: str) -> str:
    if location.startswith("runs:"):
        raise InvalidInput(f"Artifact location cannot be a runs:/ URI. Given: '{location}'")
    if len(location) > MAX_ARTIFACT_LOCATION_LENGTH:
        raise InvalidInput(
            f"Artifact location is longer than {MAX_ARTIFACT_LOCATION_LENGTH} characters; use a "
            "shorter path."
        )
    return location


def validate_archive_existing(stage: str, archive_existing_versions: bool) -> None:
    if archive_existing_versions and stage not in ARCHIVABLE_STAGES:
        raise InvalidInput(
            "Model version transition cannot archive existing model versions because "
            f"'{stage}' is not an Active stage. Valid stages are {list(ARCHIVABLE_STAGES)}."
        )


def canonical_stage(stage: str) -> str:
    from mlcadence.tracking.entities import STAGES

    for known in STAGES:
        if str(stage).lower() == known.lower():
            return known
    raise InvalidInput(
        f"Invalid Model Version stage: {stage}. Value must be one of None, Staging, Production, Archived."
    )
