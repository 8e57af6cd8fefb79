"""The scoring server's knobs, as one plain dataclass.

Defaults come from `mlcadence.settings` (the `MLCADENCE_SERVING_*`
variables); explicit arguments win over them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields

from mlcadence.settings import Settings

# ServerConfig field -> the setting (mlcadence.settings) that supplies it.
SETTING_FIELDS: dict[str, str] = {
    "batch_max_size": "serving_batch_max_size",
    "batch_max_wait_ms": "serving_batch_max_wait_ms",
    "timeout": "serving_timeout",
    "max_body_bytes": "serving_max_body_bytes",
    "reload_interval": "serving_reload_interval",
    "token": "serving_token",
}

# The whole config travels to worker processes (uvicorn --workers, detached
# deployments) as JSON in this variable.
CONFIG_ENV = "MLCADENCE_SERVING_CONFIG"


@dataclass
class ServerConfig:
    model_uri: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    # Micro-batching: concurrent requests are coalesced into one predict call.
    batch_max_size: int = 64
    batch_max_wait_ms: float = 2.0
    # Seconds a request may take end to end before it gets a 504 (MLflow: 60).
    timeout: float = 60.0
    max_body_bytes: int = 50 * 1024 * 1024
    # Seconds between registry polls when serving an alias (0 disables).
    reload_interval: float = 10.0
    token: str | None = None
    access_log: bool = False
    log_level: str = "info"
    # Deployment plumbing: share the port with a previous server (SO_REUSEPORT),
    # and also listen on a private port that health checks can target.
    reuse_port: bool = False
    admin_port: int | None = None
    state_file: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> ServerConfig:
        """Defaults, then environment, then explicit overrides (None = keep)."""
        values: dict = {}
        raw = os.environ.get(CONFIG_ENV)
        if raw:
            values.update(json.loads(raw))
        settings = Settings()  # read now, not cached: deployments set env per process
        for name, setting in SETTING_FIELDS.items():
            if setting in settings.model_fields_set and name not in values:
                values[name] = getattr(settings, setting)
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_env(self) -> str:
        return json.dumps(asdict(self))


def fast_path_enabled() -> bool:
    """MLCADENCE_SERVING_FAST_PATH=0 turns off the verified tree-ensemble fast
    path (serving.fastpath), e.g. to compare against the estimator's predict."""
    return Settings().serving_fast_path
