"""Plain records that cross the backend interface.

Field names follow MLflow's entities so that users (and our MLflow
compatibility layer) can map one onto the other without a dictionary.
Timestamps are epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class RunStatus(IntEnum):
    # The integers are MLflow's, and the file store writes them as is.
    RUNNING = 1
    SCHEDULED = 2
    FINISHED = 3
    FAILED = 4
    KILLED = 5

    @classmethod
    def parse(cls, value: RunStatus | str | int) -> RunStatus:
        if isinstance(value, RunStatus):
            return value
        if isinstance(value, int):
            return cls(value)
        return cls[str(value).upper()]

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


ACTIVE = "active"
DELETED = "deleted"


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


@dataclass
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = ACTIVE
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: RunStatus
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = ACTIVE


@dataclass
class RunData:
    # Latest value per metric key (max by step, timestamp, value, as MLflow does).
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    info: RunInfo
    data: RunData

    @property
    def run_id(self) -> str:
        return self.info.run_id


STAGES = ("None", "Staging", "Production", "Archived")
DELETED_STAGE = "Deleted_Internal"


@dataclass
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    source: str
    run_id: str | None = None
    description: str | None = None
    current_stage: str = "None"
    status: str = "READY"
    user_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)


# MLflow 3's LoggedModelStatus, by the names its protocol uses; the file
# store writes the integers as MLflow's does.
LOGGED_MODEL_STATUSES = {
    "LOGGED_MODEL_STATUS_UNSPECIFIED": 0,
    "LOGGED_MODEL_PENDING": 1,
    "LOGGED_MODEL_READY": 2,
    "LOGGED_MODEL_UPLOAD_FAILED": 3,
}


@dataclass
class LoggedModel:
    """An MLflow 3 logged model: a model's artifacts with its own id
    (`m-<32 hex>`), made by `log_model` before (or without) registration."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str = "LOGGED_MODEL_PENDING"
    status_message: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    lifecycle_stage: str = ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
