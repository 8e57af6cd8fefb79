"""The two narrow interfaces a tracking backend implements.

- `RunStore`: experiments, runs, params, metrics, tags and run search.
- `RegistryStore`: registered models, their versions, tags and aliases.
- `LoggedModelStore` (optional): MLflow 3's logged models, which a tracking
  server needs for `log_model`; the file and SQL backends implement it.

A backend class may implement both (the built-in file and SQL backends do;
`TrackingBackend` names that pairing). Artifacts are files under each run's
`artifact_uri` and are handled by `tracking.artifacts`, not by a store.

**The Client validates, backends trust their input.** Names, values, batch
limits, duplicate params and run-name rules are checked once, by the Client
(`tracking.client` and `tracking.validation`), before a store is called.
Stores enforce only what needs their data: existence, lifecycle state,
write-once params, uniqueness, version numbering. One safety net stays in
every store: a metric, param or tag key is refused when it could name another
path (`../x`), because the file store turns keys into file names and a
server may call a store without a Client in front of it.

Implementations must be safe for several threads and several processes
writing at once, and must never leave a record that reads back half-written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from mlcadence.tracking import entities as e
from mlcadence.tracking.conventions import VIEW_ACTIVE
from mlcadence.tracking.errors import NotImplementedByStore


class Store(ABC):  # noqa: B024 - a shared base holding `uri` and `close`, nothing abstract
    uri: str

    def close(self) -> None:  # noqa: B027 - a no-op default, not an abstract method
        """Release connections or handles; the default holds none."""


class RunStore(Store):
    """Experiments and runs with their params, metrics and tags."""

    # -- experiments -------------------------------------------------------
    @abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str: ...

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> e.Experiment: ...

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> e.Experiment | None: ...

    @abstractmethod
    def list_experiments(self, view: str = VIEW_ACTIVE) -> list[e.Experiment]: ...

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Only an active experiment, and only to a name no other has."""
        raise NotImplementedByStore(f"{type(self).__name__} cannot rename experiments.")

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
        tags: Sequence[e.RunTag] = (),
    ) -> e.Run:
        """`run_name` is final (the Client chose it) and `tags` already hold
        it as `mlflow.runName`."""

    @abstractmethod
    def get_run(self, run_id: str) -> e.Run: ...

    @abstractmethod
    def update_run(
        self,
        run_id: str,
        status: e.RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> e.RunInfo: ...

    @abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[e.Metric] = (),
        params: Sequence[e.Param] = (),
        tags: Sequence[e.RunTag] = (),
    ) -> None:
        """Params are write-once: re-logging the same value is fine, another
        value raises InvalidInput and nothing of the batch is written."""

    # Single-item logging is the hot path of most training loops, so a
    # backend may override these with something cheaper than a batch.
    def log_metric(self, run_id: str, metric: e.Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    def log_param(self, run_id: str, param: e.Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: e.RunTag) -> None:
        self.log_batch(run_id, tags=[tag])

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None: ...

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[e.Metric]: ...

    @abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view: str = VIEW_ACTIVE,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
    ) -> list[e.Run]:
        """MLflow's filter grammar (tracking.search); default order is
        start_time DESC, run_id ASC."""


class RegistryStore(Store):
    """Registered models, their versions, tags and aliases."""

    @abstractmethod
    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> e.RegisteredModel: ...

    @abstractmethod
    def get_registered_model(self, name: str) -> e.RegisteredModel: ...

    @abstractmethod
    def list_registered_models(self) -> list[e.RegisteredModel]: ...

    @abstractmethod
    def update_registered_model(self, name: str, description: str) -> e.RegisteredModel: ...

    def rename_registered_model(self, name: str, new_name: str) -> e.RegisteredModel:
        raise NotImplementedByStore(
            f"{type(self).__name__} cannot rename registered models; create the model under "
            "the new name and register its versions again."
        )

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
    ) -> e.ModelVersion:
        """Creates the registered model when missing. Version numbers are
        max(existing, deleted included) + 1 and never reused, also under
        concurrent callers."""

    @abstractmethod
    def get_model_version(self, name: str, version: int) -> e.ModelVersion: ...

    @abstractmethod
    def search_model_versions(self, name: str | None = None) -> list[e.ModelVersion]:
        """Non-deleted versions, newest first."""

    @abstractmethod
    def update_model_version(self, name: str, version: int, description: str) -> e.ModelVersion: ...

    @abstractmethod
    def delete_model_version(self, name: str, version: int) -> None: ...

    @abstractmethod
    def transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool = False
    ) -> e.ModelVersion:
        """`stage` is canonical (the Client checked it)."""

    @abstractmethod
    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_model_version_tag(self, name: str, version: int, key: str) -> None: ...

    @abstractmethod
    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None: ...

    @abstractmethod
    def delete_registered_model_alias(self, name: str, alias: str) -> None: ...

    @abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> e.ModelVersion: ...


class LoggedModelStore(Store):
    """MLflow 3's logged models, persisted with the runs of their experiment."""

    @abstractmethod
    def create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> e.LoggedModel:
        """A PENDING model with a new `m-<hex>` id; its artifacts go to
        `<experiment artifact location>/models/<model_id>/artifacts`."""

    @abstractmethod
    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> e.LoggedModel: ...

    @abstractmethod
    def finalize_logged_model(self, model_id: str, status: str) -> e.LoggedModel: ...

    @abstractmethod
    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None: ...

    @abstractmethod
    def delete_logged_model_tag(self, model_id: str, key: str) -> None: ...

    @abstractmethod
    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None: ...

    @abstractmethod
    def delete_logged_model(self, model_id: str) -> None: ...

    @abstractmethod
    def list_logged_models(self, experiment_ids: Sequence[str]) -> list[e.LoggedModel]:
        """Active models of those experiments, newest first."""


class TrackingBackend(RunStore, RegistryStore):
    """A backend that is both stores, as the built-in ones are."""
