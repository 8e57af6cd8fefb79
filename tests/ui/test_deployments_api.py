"""The Deployments page's server side: the deployed versions found through
their tags, the live look refused for anything but a recorded endpoint, a
down endpoint reported as a state, and a model server's real /metrics text
summed up. (The live deployment itself: test_deployments_page.py.)"""

from __future__ import annotations

import httpx
import pytest

from mlcadence import tracking
from mlcadence.serving.metrics import ServerMetrics
from mlcadence.tracking.conventions import (
    DEPLOYMENT_DEPLOYED_AT_TAG,
    DEPLOYMENT_ENDPOINT_TAG,
    DEPLOYMENT_STOPPED_AT_TAG,
    DEPLOYMENT_TARGET_TAG,
)
from mlcadence.tracking.server.metrics_summary import bucket_quantile, summarize
from tests.tracking.server_fixtures import free_port, tracking_server  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
def registry_server(tracking_server, tmp_path):  # noqa: F811 - the imported fixture
    """A server on a file store with model `m`: v1 tagged as deployed on a port
    nothing listens on, v2 never deployed."""
    store = str(tmp_path / "mlruns")
    client = tracking.Client(store)
    client.create_registered_model("m")
    for _ in range(2):
        client.create_model_version("m", "file:///nowhere/model")
    tags = {
        DEPLOYMENT_ENDPOINT_TAG: f"http://127.0.0.1:{free_port()}/invocations",
        DEPLOYMENT_DEPLOYED_AT_TAG: "2026-01-02T03:04:05Z",
        DEPLOYMENT_TARGET_TAG: "local",
    }
    for key, value in tags.items():
        client.set_model_version_tag("m", 1, key, value)
    return tracking_server(store), client


def test_listing_finds_the_versions_a_deploy_tagged(registry_server):
    server, _ = registry_server
    body = httpx.get(f"{server.url}/ui/deployments", timeout=30).json()
    assert [(d["name"], d["version"], d["target"]) for d in body["deployments"]] == [
        ("m", "1", "local")
    ]


def test_a_deployment_that_does_not_answer_is_reported_unreachable(registry_server):
    server, _ = registry_server
    response = httpx.get(f"{server.url}/ui/deployments/health?name=m&version=1", timeout=30)
    assert response.status_code == 200
    report = response.json()
    assert report["state"] == "unreachable" and report["served"] is None
    assert "/health did not answer" in report["problem"]


def test_a_stopped_deployment_is_reported_stopped_without_being_probed(registry_server):
    server, client = registry_server
    client.set_model_version_tag("m", 1, DEPLOYMENT_STOPPED_AT_TAG, "2026-01-02T04:00:00Z")
    report = httpx.get(f"{server.url}/ui/deployments/health?name=m&version=1", timeout=30).json()
    assert report["state"] == "stopped" and report["stopped_at"] == "2026-01-02T04:00:00Z"
    assert report["problem"] is None  # not probed: nothing failed


def test_only_a_recorded_endpoint_is_probed(registry_server):
    server, client = registry_server
    # A version without deployment tags: nothing to probe, and no URL is taken from the request.
    missing = httpx.get(
        f"{server.url}/ui/deployments/health",
        params={"name": "m", "version": "2", "endpoint": "http://169.254.169.254/"},
        timeout=30,
    )
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "mlcadence deploy" in missing.json()["message"]
    client.set_model_version_tag("m", 2, DEPLOYMENT_ENDPOINT_TAG, "file:///etc/passwd")
    not_http = httpx.get(f"{server.url}/ui/deployments/health?name=m&version=2", timeout=30)
    assert not_http.status_code == 400
    assert "not an http(s) URL" in not_http.json()["message"]


def test_a_health_request_without_a_version_is_a_400_saying_what_to_give(registry_server):
    server, _ = registry_server
    response = httpx.get(f"{server.url}/ui/deployments/health?name=m", timeout=30)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "version=" in response.json()["message"]


def test_metrics_summary_counts_invocations_and_errors_of_a_real_metrics_text():
    metrics = ServerMetrics()
    for status in (200, 200, 200, 400, 503):
        metrics.record("/invocations", status)
    metrics.record("/health", 200)  # not a request to the model
    for seconds in (0.0007, 0.0015, 0.003, 0.04):
        metrics.latency.observe(seconds)
    metrics.batch_size.observe(2)
    summary = summarize(metrics.render().decode())
    assert summary["requests"] == 5 and summary["errors"] == 2
    assert summary["by_status"] == {"200": 3, "400": 1, "503": 1}
    latency = summary["latency_seconds"]
    assert latency["count"] == 4
    assert latency["mean"] == pytest.approx((0.0007 + 0.0015 + 0.003 + 0.04) / 4)
    # Half the observations are at or below 0.002 s: the median falls in (0.001, 0.002].
    assert 0.001 < latency["p50"] <= 0.002
    assert 0.025 < latency["p99"] <= 0.05
    assert summary["batch_size_mean"] == 2


def test_a_quantile_in_the_open_top_bucket_is_the_largest_finite_bound():
    buckets = [(0.1, 1.0), (1.0, 1.0), (float("inf"), 4.0)]
    assert bucket_quantile(0.9, buckets) == 1.0
    assert bucket_quantile(0.5, [(0.1, 0.0), (float("inf"), 0.0)]) is None


def test_text_that_is_not_prometheus_format_is_a_problem_not_a_crash():
    assert "not Prometheus text" in summarize("mlcadence_requests_total{path= 3\n")["problem"]
