"""Conventions shared by the Client and every backend, declared once:
the default experiment, run-name tags and generated names, listing views,
and how a URI's scheme is read.

Plain constants and small pure functions; this module imports nothing of
ours, so any tracking module may use it.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from urllib.parse import urlparse

# Experiment 0, which every store has from the start and which cannot be deleted.
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"

# A run's name lives in its info and, as MLflow keeps it, in this tag.
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"

# Version tag holding the sha256 of a model's `mlcadence-manifest.json`, written
# by registration only: loads through the registry check the manifest against it.
MANIFEST_DIGEST_TAG = "mlcadence.manifest_sha256"

# Model version tags every deploy writes (serving.deploy) and the UI's
# Deployments page reads: where the version is served, since when, on which
# target, and when `mlcadence deployments stop` stopped it. Unprefixed, as
# stores written before these constants existed hold them.
DEPLOYMENT_ENDPOINT_TAG = "endpoint"
DEPLOYMENT_DEPLOYED_AT_TAG = "deployed_at"
DEPLOYMENT_TARGET_TAG = "target"
DEPLOYMENT_STOPPED_AT_TAG = "stopped_at"

# Prometheus series a model server's /metrics exposes (serving.metrics), as
# the UI summarizes them.
SERVING_REQUESTS_METRIC = "mlcadence_requests"
SERVING_LATENCY_METRIC = "mlcadence_request_latency_seconds"
SERVING_BATCH_SIZE_METRIC = "mlcadence_batch_size"

# Which runs or experiments a listing returns, by lifecycle stage.
VIEW_ACTIVE = "active"
VIEW_DELETED = "deleted"
VIEW_ALL = "all"
VIEWS = (VIEW_ACTIVE, VIEW_DELETED, VIEW_ALL)

# Words for generated run names ("<adjective>-<noun>-<n>", at most 20 chars,
# the shape MLflow gives unnamed runs).
_ADJECTIVES = (
    "amber bold brisk calm clever crisp eager fair gentle glad keen lively lucid merry nimble "
    "placid quick quiet rapid sunny swift tidy vivid warm wise zesty"
).split()
_NOUNS = (
    "badger bison crane dove eagle falcon ferret finch gecko heron ibis koala lark lemur lynx "
    "marten newt otter panda quail raven robin seal stoat swan tern vole wren"
).split()
MAX_GENERATED_RUN_NAME = 20


def random_run_name() -> str:
    name = f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(0, 1000)}"
    return name[:MAX_GENERATED_RUN_NAME]


def uri_scheme(uri: str) -> str:
    """The URI's scheme, or "" for a plain path. One-letter "schemes" are
    Windows drive letters (C:\\...), not schemes."""
    scheme = urlparse(str(uri)).scheme
    return "" if len(scheme) <= 1 else scheme


def has_scheme(uri: str) -> bool:
    return uri_scheme(uri) != ""


def path_to_file_uri(path: str | os.PathLike) -> str:
    """An absolute file:// URI for a local path (~ expanded)."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path)))).as_uri()


def location_uri(location: str) -> str:
    """A local path as a file:// URI; a URI with a real scheme as given."""
    return location if has_scheme(location) else path_to_file_uri(location)


def now_ms() -> int:
    """Epoch milliseconds, the unit of every timestamp in a store."""
    return time.time_ns() // 1_000_000
