"""A model server's Prometheus text (`/metrics`) summed up for the Deployments
page: /invocations requests and errors, latency quantiles estimated from the
histogram's buckets (as Prometheus' histogram_quantile does), mean batch size."""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from mlcadence.tracking.conventions import (
    SERVING_BATCH_SIZE_METRIC,
    SERVING_LATENCY_METRIC,
    SERVING_REQUESTS_METRIC,
)

INVOCATIONS = "/invocations"
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def _samples(text: str) -> dict[str, list]:
    """Family name -> its samples."""
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile of a histogram given as sorted (upper bound, cumulative
    count) pairs: linear within the bucket it falls in; the largest finite
    bound when it falls in the +Inf bucket; None without observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def _histogram(samples: list) -> dict:
    buckets = sorted(
        (float(s.labels["le"]), s.value) for s in samples if s.name.endswith("_bucket")
    )
    count = next((s.value for s in samples if s.name.endswith("_count")), 0.0)
    total = next((s.value for s in samples if s.name.endswith("_sum")), 0.0)
    summary = {"count": int(count), "mean": total / count if count else None}
    summary.update({key: bucket_quantile(q, buckets) for key, q in QUANTILES.items()})
    return summary


def summarize(text: str) -> dict:
    """{requests, errors, by_status, latency_seconds: {count, mean, p50, p95,
    p99}, batch_size_mean} for /invocations; a `problem` instead when the
    text is not Prometheus' format."""
    try:
        families = _samples(text)
    except ValueError as exc:
        return {"problem": f"/metrics is not Prometheus text ({exc})"}
    by_status: dict[str, int] = {}
    for sample in families.get(SERVING_REQUESTS_METRIC, []):
        if sample.name.endswith("_total") and sample.labels.get("path") == INVOCATIONS:
            status = sample.labels.get("status", "?")
            by_status[status] = by_status.get(status, 0) + int(sample.value)
    batch = _histogram(families.get(SERVING_BATCH_SIZE_METRIC, []))
    return {
        "requests": sum(by_status.values()),
        "errors": sum(
            n for status, n in by_status.items() if not status.startswith(("1", "2", "3"))
        ),
        "by_status": dict(sorted(by_status.items())),
        "latency_seconds": _histogram(families.get(SERVING_LATENCY_METRIC, [])),
        "batch_size_mean": batch["mean"],
    }
