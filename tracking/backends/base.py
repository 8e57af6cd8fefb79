"""The one narrow interface every tracking backend implements.

A backend stores experiments, runs (params, metrics, tags, status) and the
model registry. Artifacts are files under each run's `artifact_uri` (a
`file://` URI for every built-in backend) and are handled by
`tracking.artifacts`, not by the backend.

Everything above this layer (the Client, the fluent API, flows, serving)
talks only to this interface, so a backend is chosen by URI scheme alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from mlcadence.tracking.entities import (
    Experiment,
    Metric,
    ModelVersion,
    Param,
    RegisteredModel,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
)

VIEW_ACTIVE = "active"
VIEW_DELETED = "deleted"
VIEW_ALL = "all"


class TrackingBackend(ABC):
    """Abstract store. Implementations must be safe for several threads and
    several processes writing at once, and must never leave a record that
    reads back half-written."""

    uri: str

    # -- experiments -------------------------------------------------------
    @abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str: ...

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    @abstractmethod
    def list_experiments(self, view: str = VIEW_ACTIVE) -> list[Experiment]: ...

    @abstractmethod
    def delete_experiment(self, experiment_id: str) -> None: ...

    @abstractmethod
    def restore_experiment(self, experiment_id: str) -> None: ...

    @abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    # -- runs --------------------------------------------------------------
    @abstractmethod
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        run_name: str,
        tags: Sequence[RunTag] = (),
    ) -> Run: ...

    @abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abstractmethod
    def update_run(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo: ...

    @abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Params are write-once: re-logging the same value is fine, another
        value raises InvalidInput and nothing of the batch is written."""

    # Single-item logging is the hot path of most training loops, so a
    # backend may override these with something cheaper than a batch.
    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=[tag])

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None: ...

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...

    @abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view: str = VIEW_ACTIVE,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
    ) -> list[Run]:
        """MLflow's filter grammar (tracking.search); default order is
        start_time DESC, run_id ASC."""

    # -- model registry ----------------------------------------------------
    @abstractmethod
    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel: ...

    @abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel: ...

    @abstractmethod
    def list_registered_models(self) -> list[RegisteredModel]: ...

    @abstractmethod
    def update_registered_model(self, name: str, description: str) -> RegisteredModel: ...

    @abstractmethod
    def delete_registered_model(self, name: str) -> None: ...

    @abstractmethod
    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_registered_model_tag(self, name: str, key: str) -> None: ...

    @abstractmethod
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """Creates the registered model when missing. Version numbers are
        max(existing, deleted included) + 1 and never reused, also under
        concurrent callers."""

    @abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersion: ...

    @abstractmethod
    def search_model_versions(self, name: str | None = None) -> list[ModelVersion]:
        """Non-deleted versions, newest first."""

    @abstractmethod
    def update_model_version(self, name: str, version: int, description: str) -> ModelVersion: ...

    @abstractmethod
    def delete_model_version(self, name: str, version: int) -> None: ...

    @abstractmethod
    def transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion: ...

    @abstractmethod
    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_model_version_tag(self, name: str, version: int, key: str) -> None: ...

    @abstractmethod
    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None: ...

    @abstractmethod
    def delete_registered_model_alias(self, name: str, alias: str) -> None: ...

    @abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    def close(self) -> None:  # noqa: B027 - a no-op default, not an abstract method
        """Release connections or handles; the default holds none."""
