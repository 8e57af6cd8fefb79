"""Prefect tasks for the data steps: acquire, record, validate, prepare.

acquire and prepare are pure (no tracking run among their inputs), so Prefect
can cache them; their results are persisted under the `cache_dir` setting.
acquire is keyed by the source's content, never by its name alone
(`SourceContent`); prepare by the data's digest and its own inputs. What
acquire returned is written to the tracking run by `record_dataset`, which
always runs, so a cache hit is still recorded, with the digest and row count
of the data actually used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.logging import get_run_logger
from prefect.utilities.hashing import hash_objects

from mlcadence import tracking
from mlcadence.pipeline import features, sources, validation
from mlcadence.pipeline.errors import DataUnavailable
from mlcadence.settings import Settings

ACQUIRE_RETRY_DELAYS = [1, 2, 4]  # seconds; backoff between attempts
# A content key already changes with the data; this only bounds how long an
# entry for a closed range of history is trusted (FRED revises old values).
ACQUIRE_CACHE_EXPIRATION = timedelta(hours=12)
PREPARE_CACHE_EXPIRATION = timedelta(days=7)  # a pure function of data digest + params


def _retry_only_network_errors(task, task_run, state) -> bool:
    """A bad URI or a missing file will not get better by waiting (the CLI
    refuses those before Prefect starts). A failure whose exception cannot be
    read back from the state is retried: it was not one of those."""
    try:
        error = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - the result store could not give it back
        return True
    return isinstance(error, DataUnavailable)


@dataclass
class SourceContent(CachePolicy):
    """acquire's cache key: the source's content key (`sources.content_key`:
    a file's path, size, mtime and sha256; a URL's ETag/Last-Modified; FRED's
    publication day) plus the task's code. No key, so no caching, when the
    content cannot be known without fetching it (a URL without validators)."""

    def compute_key(self, task_ctx, inputs: dict[str, Any], flow_parameters, **kwargs):
        try:
            content = sources.content_key(inputs["source"], inputs.get("start"), inputs.get("end"))
        except Exception:  # noqa: BLE001 (a bad source fails in the task itself, uncached)
            return None
        if content is None:
            return None
        code = TASK_SOURCE.compute_key(task_ctx, inputs, flow_parameters, **kwargs)
        return hash_objects(content, code, raise_on_failure=True)


@task(
    name="acquire",
    retries=len(ACQUIRE_RETRY_DELAYS),
    retry_delay_seconds=ACQUIRE_RETRY_DELAYS,
    retry_jitter_factor=0.2,
    retry_condition_fn=_retry_only_network_errors,
    cache_policy=SourceContent(),
    cache_expiration=ACQUIRE_CACHE_EXPIRATION,
    persist_result=True,
)
def acquire(source: str, start: str | None = None, end: str | None = None) -> sources.Dataset:
    dataset = sources.load(source, start, end)
    get_run_logger().info(
        "acquired %s: %d rows, %s → %s", source, dataset.rows, dataset.start, dataset.end
    )
    return dataset


@task(name="record-dataset")
def record_dataset(dataset: sources.Dataset) -> dict[str, str]:
    """Source, date range, row count and sha256 digest, on the active run."""
    described = dataset.describe()
    tracking.log_params({f"data_{key}": value for key, value in described.items()})
    tracking.set_tags(
        {"mlcadence.dataset.source": dataset.source, "mlcadence.dataset.digest": dataset.digest}
    )
    tracking.log_dict({**described, "dropped_missing": dataset.dropped_missing}, "dataset.json")
    return described


@task(name="validate")
def validate(
    dataset: sources.Dataset, window: int, test_size: float
) -> validation.ValidationReport:
    return validation.validate(dataset.frame, window, test_size)


@task(
    name="prepare",
    # The frame itself is keyed by its digest: hashing the whole frame would
    # cost more than preparing it.
    cache_policy=(INPUTS - "dataset") + TASK_SOURCE,
    cache_expiration=PREPARE_CACHE_EXPIRATION,
    persist_result=True,
)
def prepare(
    dataset: sources.Dataset,
    dataset_digest: str,
    window: int,
    split: str,
    test_size: float,
) -> features.Split:
    return features.prepare(dataset.frame, window, split, test_size)


def with_cache_storage(*cached_tasks):
    """The tasks, their results persisted under the `cache_dir` setting (read
    at call time, so tests and deployments can point it elsewhere)."""
    storage = Path(Settings().cache_dir).expanduser()
    storage.mkdir(parents=True, exist_ok=True)
    return tuple(t.with_options(result_storage=storage) for t in cached_tasks)
