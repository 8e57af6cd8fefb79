"""What every route function gets: the stores behind the server and how
artifact URIs are shown."""

from __future__ import annotations

from dataclasses import dataclass

from mlcadence.tracking.backends.base import RegistryStore, RunStore
from mlcadence.tracking.client import Client
from mlcadence.tracking.server.artifacts import ArtifactDestination


@dataclass
class ServerContext:
    client: Client  # validates, as for any other caller
    destination: ArtifactDestination | None
    prefect_ui_url: str | None = None  # where the web UI links a run's Prefect flow run

    @property
    def runs(self) -> RunStore:
        return self.client.backend

    @property
    def registry(self) -> RegistryStore:
        return self.client.registry_store

    def present(self, uri: str | None) -> str | None:
        return uri if self.destination is None else self.destination.present(uri)
