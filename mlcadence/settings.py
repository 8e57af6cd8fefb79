"""Every setting mlcadence reads from the environment, in one place.

All variables share the MLCADENCE_ prefix, e.g. MLCADENCE_TRACKING_URI.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    experiment_name: str | None = Field(None, description="Default experiment for new runs.")
    state_dir: Path = Field(
        Path.home() / ".mlcadence", description="Deployments' pid and log files."
    )
    cache_dir: Path = Field(
        Path.home() / ".mlcadence" / "cache", description="Persisted Prefect task results."
    )
    fred_url: str | None = Field(
        None, description="FRED CSV endpoint override (a mirror or a local test server)."
    )
    docker_base_image: str = Field(
        "local/python-base:3.11",
        description="Base image for model-server images; python:3.11-slim where a registry is reachable.",
    )
    serving_token: str | None = Field(None, description="Bearer token required on /invocations.")
    serving_batch_max_size: int = Field(
        64, ge=1, description="Most requests coalesced per predict."
    )
    serving_batch_max_wait_ms: float = Field(
        2.0, ge=0, description="Longest a request waits for batch-mates."
    )
    serving_timeout: float = Field(60.0, gt=0, description="Seconds before a request gets a 504.")
    serving_max_body_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="Larger bodies get 413."
    )
    serving_reload_interval: float = Field(
        10.0, ge=0, description="Seconds between registry polls when serving an alias; 0 = off."
    )
    serving_fast_path: bool = Field(True, description="Verified tree-ensemble predict fast path.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()
