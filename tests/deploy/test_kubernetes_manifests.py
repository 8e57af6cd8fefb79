"""deploy/kubernetes/ checked without a cluster: every manifest against the
Kubernetes API schemas (kubernetes-validate, strict), the pieces against each
other (Services, ports, probes, Secrets, images), and the commands and
variables against the code they configure."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import kubernetes_validate
import pytest
import typer.main
from pydantic import AliasChoices

from mlcadence.cli import build_app
from mlcadence.serving.routes import GET_ROUTES
from mlcadence.settings import ServerSettings, ServingSettings, Settings
from tests.deploy import kubernetes as k8s

# The oldest Kubernetes release still commonly run, and the newest the
# package ships: a field either one lacks or renamed fails here.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
SETTINGS_CLASSES = (Settings, ServingSettings, ServerSettings)
VARIABLE = re.compile(r"\bMLCADENCE_[A-Z0-9_]+\b")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("manifest", k8s.manifests(), ids=str)
def test_every_manifest_is_valid_for_kubernetes_in_strict_mode(manifest, version):
    # Strict: an unknown or misspelt field is an error, not silently dropped.
    kubernetes_validate.validate(manifest.document, version, strict=True)


def test_the_kustomization_lists_every_manifest_file_and_only_those():
    listed = k8s.kustomization()["resources"]
    assert sorted(listed) == [p.name for p in k8s.manifest_files()]


def test_a_broken_manifest_is_refused_by_the_same_check():
    # The check above could pass vacuously (an empty schema, a wrong kind);
    # a misspelt field in a real manifest must fail it.
    document = k8s.workload("mlcadence-model").document
    document["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(document, KUBERNETES_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("service", k8s.of_kind("Service"), ids=str)
def test_every_service_selects_one_workload_and_targets_its_named_ports(service):
    selector = service.document["spec"]["selector"]
    selected = [
        w
        for w in k8s.of_kind(*k8s.WORKLOAD_KINDS)
        if selector.items() <= w.document["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert [w.name for w in selected] == [service.name]
    (target,) = selected
    port_names = {p["name"] for c in k8s.containers(target) for p in c.get("ports", [])}
    for port in service.document["spec"]["ports"]:
        assert port["targetPort"] in port_names, f"{service}: {port}"


@pytest.mark.parametrize("workload", k8s.of_kind(*k8s.WORKLOAD_KINDS), ids=str)
def test_every_workload_selector_matches_its_own_pods(workload):
    spec = workload.document["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("workload", k8s.of_kind(*k8s.WORKLOAD_KINDS), ids=str)
def test_every_probe_targets_a_named_port_of_its_container(workload):
    for container in k8s.containers(workload):
        port_names = {p["name"] for p in container.get("ports", [])}
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = container.get(kind, {})
            for action in ("httpGet", "tcpSocket"):
                if action in probe:
                    assert probe[action]["port"] in port_names, f"{workload} {kind}"


def test_the_model_server_probes_paths_the_scoring_server_routes():
    (container,) = k8s.containers(k8s.workload("mlcadence-model"))
    routed = {path for path, _handler, _summary in GET_ROUTES}
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert "/health" in routed


def test_the_model_server_rolls_out_blue_green():
    spec = k8s.workload("mlcadence-model").document["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    (container,) = spec["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    # The pod outlives its preStop pause plus a request's longest run.
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    grace = spec["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > pause + ServingSettings.model_fields["timeout"].default


def test_the_tracking_server_keeps_artifacts_on_its_volume():
    manifest = k8s.workload("mlcadence-tracking")
    (container,) = k8s.containers(manifest)
    env = {e["name"]: e.get("value") for e in container["env"]}
    (mount,) = container["volumeMounts"]
    assert env["MLCADENCE_SERVER_ARTIFACTS_DESTINATION"] == mount["mountPath"]
    (volume,) = manifest.document["spec"]["template"]["spec"]["volumes"]
    assert volume["name"] == mount["name"]
    claims = [m.name for m in k8s.of_kind("PersistentVolumeClaim")]
    assert volume["persistentVolumeClaim"]["claimName"] in claims


def test_every_secret_reference_names_a_key_the_secrets_define():
    defined = k8s.secret_values()
    references = [
        (str(m), env["valueFrom"]["secretKeyRef"])
        for m, container in k8s.all_containers()
        for env in container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    ]
    assert references
    for where, ref in references:
        assert (ref["name"], ref["key"]) in defined, f"{where}: {ref}"


def test_every_mlcadence_container_and_flow_run_use_the_one_image():
    images = {c["image"] for m, c in k8s.all_containers() if c["image"].startswith("mlcadence")}
    (rewrite,) = k8s.kustomization()["images"]
    template_default = k8s.base_job_template()["variables"]["properties"]["image"]["default"]
    assert images == {f"{rewrite['name']}:{rewrite['newTag']}"} == {template_default}


def test_clients_reach_the_tracking_server_at_its_service():
    service = next(s for s in k8s.of_kind("Service") if s.name == "mlcadence-tracking")
    url = f"http://{service.name}:{service.document['spec']['ports'][0]['port']}"
    (model_server,) = k8s.containers(k8s.workload("mlcadence-model"))
    env = {e["name"]: e.get("value") for e in model_server["env"]}
    assert env["MLCADENCE_TRACKING_URI"] == url
    template = k8s.base_job_template()["variables"]["properties"]
    assert template["tracking_uri"]["default"] == url


def _setting_variables() -> set[str]:
    names = set()
    for settings in SETTINGS_CLASSES:
        prefix = settings.model_config["env_prefix"]
        for name, field in settings.model_fields.items():
            if isinstance(field.validation_alias, AliasChoices):
                names.update(a for a in field.validation_alias.choices if isinstance(a, str))
            else:
                names.add(prefix + name.upper())
    return names


def test_every_mlcadence_variable_named_in_deploy_is_a_setting():
    texts = [p.read_text() for p in k8s.manifest_files()]
    texts.append(k8s.BASE_JOB_TEMPLATE.read_text())
    used = {name for text in texts for name in VARIABLE.findall(text)}
    assert "MLCADENCE_SERVER_BACKEND_STORE_URI" in used  # the scan sees them
    assert used - _setting_variables() == set()


@pytest.mark.parametrize(
    "manifest, container",
    [(m, c) for m, c in k8s.all_containers() if c["image"].startswith("mlcadence")],
    ids=lambda x: str(x) if isinstance(x, k8s.Manifest) else x["name"],
)
def test_every_container_environment_is_a_valid_configuration(manifest, container, monkeypatch):
    secrets = k8s.secret_values()
    for env in container.get("env", []):
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        monkeypatch.setenv(env["name"], secrets[ref["name"], ref["key"]] if ref else env["value"])
    for settings in SETTINGS_CLASSES:
        settings()  # a bad value (a port that is no number, a bool) raises here


@pytest.mark.parametrize(
    "manifest, container",
    [(m, c) for m, c in k8s.all_containers() if c.get("command", [""])[0] == "mlcadence"],
    ids=lambda x: str(x) if isinstance(x, k8s.Manifest) else x["name"],
)
def test_every_mlcadence_command_line_parses_with_the_cli(manifest, container):
    _program, name = container["command"]
    command = typer.main.get_command(build_app(name)).commands[name]
    # Parsing checks every option's name and value type without running it.
    context = command.make_context(name, list(container["args"]))
    assert context.params["port"] == int(container["ports"][0]["containerPort"])
    assert context.params["host"] == "0.0.0.0"


@pytest.mark.integration
def test_the_prefect_worker_command_uses_options_prefect_has():
    (container,) = k8s.containers(k8s.workload("prefect-worker"))
    assert container["command"] == ["prefect", "worker", "start"]
    shown = subprocess.run(
        [sys.executable, "-m", "prefect", "worker", "start", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
        timeout=120,
        check=True,
    ).stdout
    flags = [a for a in container["args"] if a.startswith("--")]
    assert flags
    for flag in flags:
        assert re.search(rf"(?<![\w-]){flag}(?![\w-])", shown), flag
