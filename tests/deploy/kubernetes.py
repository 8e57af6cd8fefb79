"""deploy/kubernetes/ as the tests read it: its manifests, as YAML documents,
and the Prefect work pool's base job template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUSTOMIZATION = FOLDER / "kustomization.yaml"
BASE_JOB_TEMPLATE = FOLDER / "prefect" / "base-job-template.json"
WORKLOAD_KINDS = ("Deployment", "StatefulSet")


@dataclass(frozen=True)
class Manifest:
    file: str
    document: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.document["kind"]

    @property
    def name(self) -> str:
        return self.document["metadata"]["name"]

    def __str__(self) -> str:
        return f"{self.file}:{self.kind}/{self.name}"


def manifest_files() -> list[Path]:
    return sorted(p for p in FOLDER.glob("*.yaml") if p != KUSTOMIZATION)


def manifests() -> list[Manifest]:
    return [
        Manifest(path.name, document)
        for path in manifest_files()
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def of_kind(*kinds: str) -> list[Manifest]:
    return [m for m in manifests() if m.kind in kinds]


def workload(name: str) -> Manifest:
    (found,) = [m for m in of_kind(*WORKLOAD_KINDS) if m.name == name]
    return found


def containers(manifest: Manifest) -> list[dict[str, Any]]:
    return manifest.document["spec"]["template"]["spec"]["containers"]


def all_containers() -> Iterator[tuple[Manifest, dict[str, Any]]]:
    for manifest in of_kind(*WORKLOAD_KINDS):
        for container in containers(manifest):
            yield manifest, container


def kustomization() -> dict[str, Any]:
    return yaml.safe_load(KUSTOMIZATION.read_text())


def base_job_template() -> dict[str, Any]:
    return json.loads(BASE_JOB_TEMPLATE.read_text())


def secret_values() -> dict[tuple[str, str], str]:
    """(secret name, key) -> the value written in the manifests."""
    return {
        (m.name, key): value
        for m in of_kind("Secret")
        for key, value in m.document.get("stringData", {}).items()
    }
