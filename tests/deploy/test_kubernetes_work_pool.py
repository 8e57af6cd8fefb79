"""The work pool's base job template as Prefect takes it: a real Prefect
server stores it as a kubernetes work pool, and prefect-kubernetes' own job
configuration renders it for a real flow run into a Job that is valid
Kubernetes and carries the tracking server's address and token."""

from __future__ import annotations

import asyncio
import uuid

import kubernetes_validate
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.server.schemas.actions import validate_base_job_template
from prefect.utilities.schema_tools import ValidationError, validate
from prefect_kubernetes.worker import KubernetesWorker, KubernetesWorkerJobConfiguration

from tests.deploy import kubernetes as k8s

pytestmark = pytest.mark.integration

KUBERNETES_VERSION = "1.37.0"


@flow
def kubernetes_probe_flow() -> None:
    """Only ever created as a flow run on the test server, never run."""


def _rendered_job(values: dict) -> tuple[str, dict]:
    """The Job a kubernetes worker would create for a new flow run, given
    the deployment's job `values`; with the flow run's id."""

    async def render():
        async with get_client() as client:
            flow_run = await client.create_flow_run(kubernetes_probe_flow)
            configuration = await KubernetesWorkerJobConfiguration.from_template_and_values(
                k8s.base_job_template(), values, client=client
            )
        configuration.prepare_for_flow_run(flow_run)
        return str(flow_run.id), configuration.job_manifest

    return asyncio.run(render())


# prefect-kubernetes insists on these two in the pod spec (its job-manifest
# check refuses a template without them), where Kubernetes does not define
# them: the API server drops them with a warning. Everything else is strict.
PREFECT_POD_SPEC_EXTRAS = {"parallelism": 1, "completions": 1}


def _validate_job(job: dict) -> None:
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=False)
    pod_spec = job["spec"]["template"]["spec"]
    extras = {key: pod_spec.pop(key) for key in PREFECT_POD_SPEC_EXTRAS}
    assert extras == PREFECT_POD_SPEC_EXTRAS
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


def _container_env(job: dict) -> dict[str, dict]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return {entry["name"]: entry for entry in container["env"]}


def test_a_prefect_server_accepts_the_template_as_a_kubernetes_work_pool(prefect_server):
    template = k8s.base_job_template()
    validate_base_job_template(template)  # the server's own check, named on failure

    async def create_and_read():
        async with get_client() as client:
            name = f"mlcadence-k8s-{uuid.uuid4().hex[:8]}"
            await client.create_work_pool(
                WorkPoolCreate(name=name, type="kubernetes", base_job_template=template)
            )
            return await client.read_work_pool(name)

    pool = asyncio.run(create_and_read())
    assert pool.type == "kubernetes"
    assert pool.base_job_template == template


def test_the_template_keeps_every_variable_of_the_workers_default():
    # The Prefect UI's form for the pool and deployments' job_variables rely on them.
    default = KubernetesWorker.get_default_base_job_template()["variables"]["properties"]
    ours = k8s.base_job_template()["variables"]["properties"]
    assert set(default) <= set(ours)


def test_a_flow_run_becomes_a_valid_job_that_logs_to_the_tracking_server(prefect_server):
    flow_run_id, job = _rendered_job({})
    _validate_job(job)
    assert job["metadata"]["namespace"] == "mlcadence"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "mlcadence:0.1.0"
    env = _container_env(job)
    assert env["MLCADENCE_TRACKING_URI"]["value"] == "http://mlcadence-tracking:5000"
    # The token comes from the Secret at pod start, never through Prefect.
    assert env["MLCADENCE_TRACKING_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlcadence-tokens",
        "key": "writer-token",
    }
    # What the worker adds on top: which run to execute and where Prefect is.
    assert env["PREFECT__FLOW_RUN_ID"]["value"] == flow_run_id
    assert env["PREFECT_API_URL"]["value"]


def test_deployment_job_variables_override_the_defaults(prefect_server):
    _id, job = _rendered_job(
        {
            "image": "registry.example.com/mlcadence:0.2.0",
            "tracking_uri": "http://tracking.other:5000",
            "token_secret": "team-tokens",
            "env": {"MLCADENCE_EXPERIMENT_NAME": "nightly"},
        }
    )
    _validate_job(job)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example.com/mlcadence:0.2.0"
    env = _container_env(job)
    assert env["MLCADENCE_TRACKING_URI"]["value"] == "http://tracking.other:5000"
    assert env["MLCADENCE_TRACKING_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "team-tokens"
    assert env["MLCADENCE_EXPERIMENT_NAME"]["value"] == "nightly"


def test_the_variables_schema_refuses_a_bad_job_variable():
    schema = k8s.base_job_template()["variables"]
    validate(
        {"image_pull_policy": "Always", "tracking_uri": "http://t:5000"},
        schema,
        raise_on_error=True,
    )
    with pytest.raises(ValidationError):
        validate({"image_pull_policy": "Sometimes"}, schema, raise_on_error=True)
