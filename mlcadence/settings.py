"""Every setting mlcadence reads from the environment, in one place.

All variables share the MLCADENCE_ prefix, e.g. MLCADENCE_TRACKING_URI.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The variables of the setting `tracking_token` (ours, then MLflow's name), also
# for processes that must be handed the token explicitly, such as containers.
TRACKING_TOKEN_VARIABLES = ("MLCADENCE_TRACKING_TOKEN", "MLFLOW_TRACKING_TOKEN")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLCADENCE_", extra="ignore")

    tracking_uri: str = Field("./mlruns", description="Where runs and the registry live.")
    artifact_root: str | None = Field(
        None,
        description="Artifact root for SQL stores; default mlartifacts/ beside the sqlite file.",
    )
    file_fsync: bool = Field(
        False, description="fsync each file-store rewrite (slower, survives power loss)."
    )
    tracking_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(*TRACKING_TOKEN_VARIABLES),
        description="Bearer token sent to an http(s):// tracking server (MLFLOW_TRACKING_TOKEN "
        "is read too, so one token serves both clients).",
    )
    tracking_retry_seconds: float = Field(
        60.0,
        ge=0,
        description="How long a request to an http(s):// tracking server is retried (connection "
        "errors, 429, 5xx) with exponential backoff before it fails; 0 = no retries.",
    )
    tracking_request_timeout: float = Field(
        120.0, gt=0, description="Seconds one request to an http(s):// tracking server may take."
    )
    experiment_name: str | None = Field(None, description="Default experiment for new runs.")
    # Paths under the home directory are computed when settings are read.
    state_dir: Path = Field(
        default_factory=lambda: Path.home() / ".mlcadence",
        description="Deployments' pid and log files.",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path.home() / ".mlcadence" / "cache",
        description="Persisted Prefect task results.",
    )
    fred_url: str | None = Field(
        None, description="FRED CSV endpoint override (a mirror or a local test server)."
    )
    docker_base_image: str = Field(
        "local/python-base:3.11",
        description="Base image for model-server images; python:3.11-slim where a registry is reachable.",
    )


class ExportedSettings(BaseSettings):
    """Settings that worker processes and deployments receive as variables."""

    def as_environment(self) -> dict[str, str]:
        """These settings as the <env_prefix><FIELD> variables that recreate
        them in another process."""
        prefix = self.model_config["env_prefix"]
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            text = ("1" if value else "0") if isinstance(value, bool) else str(value)
            env[f"{prefix}{name.upper()}"] = text
        return env


class ServingSettings(ExportedSettings):
    """The scoring server's knobs (`mlcadence serve`, `python -m
    mlcadence.serving.server`, each uvicorn worker, each deployment). Every
    field is also the variable MLCADENCE_SERVING_<FIELD>; explicit values
    (CLI options) win over the environment. Worker processes and detached
    servers receive the whole configuration through those variables
    (`as_environment`)."""

    model_config = SettingsConfigDict(env_prefix="MLCADENCE_SERVING_", extra="ignore")

    model_uri: str | None = Field(
        None, description="Model to serve: runs:/…, models:/name/3, models:/name@alias or a path."
    )
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(5000, ge=0, le=65535, description="Port to listen on (0 = any free port).")
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")
    token: str | None = Field(
        None,
        description="Bearer token required on /invocations, /metrics, /version, /docs and "
        "/openapi.json; /health then shows details (pid, model URI) only with it.",
    )
    open_info_endpoints: bool = Field(
        False,
        description="With a token set, serve /metrics, /version, /docs and /openapi.json "
        "without it (e.g. for a Prometheus scraper on a private network).",
    )
    batch_max_size: int = Field(
        64, ge=1, description="Most requests coalesced into one predict (1 = no batching)."
    )
    batch_max_wait_ms: float = Field(
        2.0, ge=0, description="Longest a request waits for batch-mates, in milliseconds."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds before a request gets a 504.")
    max_body_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="Largest request body in bytes (413 above)."
    )
    max_rows: int = Field(
        100_000, ge=1, description="Most rows one request may score (413 above), in any format."
    )
    max_decoded_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1,
        description="Largest decoded size of a request body in bytes (413 above); for Parquet "
        "checked from its metadata before decoding (at least 8 bytes per cell).",
    )
    max_header_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest request line plus headers in bytes (431 and close above).",
    )
    header_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a connection may take to send a request's headers (or its first "
        "byte) before it is closed.",
    )
    keep_alive_timeout: float = Field(
        5.0, gt=0, description="Seconds an idle keep-alive connection stays open."
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="Most open connections per server process; more are answered 503 and closed.",
    )
    reload_interval: float = Field(
        10.0, ge=0, description="Seconds between registry polls when serving an alias; 0 = off."
    )
    fast_path: bool = Field(True, description="Verified tree-ensemble predict fast path.")
    allow_unverified: bool = Field(
        False,
        description="Also serve a model that has no digest manifest (e.g. saved by MLflow); "
        "it is loaded unverified, and the log says so.",
    )
    access_log: bool = Field(False, description="Log every request (slower).")
    log_level: str = Field("info", description="Server log level (debug, info, warning, error).")
    reuse_port: bool = Field(
        False,
        description="Share the port with a running server (SO_REUSEPORT), as deployments do.",
    )
    admin_port: int | None = Field(
        None, ge=0, description="Also listen on 127.0.0.1:<port> for health checks (0 = any)."
    )
    state_file: str | None = Field(
        None, description="Write pid and bound ports here once listening (JSON)."
    )


class ServerSettings(ExportedSettings):
    """The tracking server's knobs (`mlcadence server`, `python -m
    mlcadence.tracking.server`, each uvicorn worker). Every field is also the
    variable MLCADENCE_SERVER_<FIELD>; CLI options win over the environment.
    Worker processes receive the configuration through those variables
    (`as_environment`)."""

    model_config = SettingsConfigDict(env_prefix="MLCADENCE_SERVER_", extra="ignore")

    backend_store_uri: str | None = Field(
        None, description="Store to serve (default: the tracking URI, MLCADENCE_TRACKING_URI)."
    )
    artifacts_destination: str = Field(
        "./mlartifacts", description="Directory the server keeps and serves artifacts in."
    )
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(5000, ge=0, le=65535, description="Port to listen on.")
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")
    tokens_file: str | None = Field(
        None, description="File of '<token> <scope>' lines (scope read or write); none = open."
    )
    tokens: str | None = Field(
        None, description="The same content as the tokens file, lines or comma-separated."
    )
    access_log: bool = Field(False, description="Log every request (never its headers).")
    log_level: str = Field("info", description="Server log level (debug, info, warning, error).")
    prefect_ui_url: str | None = Field(
        None,
        description="Prefect UI base URL the web UI links flow runs to (default: PREFECT_UI_URL; "
        "unset = no links).",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()
