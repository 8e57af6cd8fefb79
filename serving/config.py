"""The scoring server's knobs, as one plain dataclass.

Defaults come from `mlcadence.settings` where a setting exists there
(`serving_token`); the serving-specific knobs not yet in the settings module
are read from `MLCADENCE_SERVING_*` environment variables here and only here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields

# Environment variable -> (field, parser). Kept as data so the CLI help, the
# README and this table cannot drift apart.
ENV_FIELDS: dict[str, tuple[str, type]] = {
    "MLCADENCE_SERVING_BATCH_MAX_SIZE": ("batch_max_size", int),
    "MLCADENCE_SERVING_BATCH_MAX_WAIT_MS": ("batch_max_wait_ms", float),
    "MLCADENCE_SERVING_TIMEOUT": ("timeout", float),
    "MLCADENCE_SERVING_MAX_BODY_BYTES": ("max_body_bytes", int),
    "MLCADENCE_SERVING_RELOAD_INTERVAL": ("reload_interval", float),
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
        for var, (name, parse) in ENV_FIELDS.items():
            if var in os.environ and name not in values:
                values[name] = parse(os.environ[var])
        if "token" not in values:
            values["token"] = _settings_token()
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_env(self) -> str:
        return json.dumps(asdict(self))


def _settings_token() -> str | None:
    try:
        from mlcadence.settings import get_settings
    except ImportError:  # serving used as a library without the CLI package
        return os.environ.get("MLCADENCE_SERVING_TOKEN") or None
    return get_settings().serving_token or None
