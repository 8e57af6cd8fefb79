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
    experiment_name: str | None = Field(None, description="Default experiment for new runs.")
    state_dir: Path = Field(Path.home() / ".mlcadence", description="Deployments' pid and log files.")
    cache_dir: Path = Field(
        Path.home() / ".mlcadence" / "cache", description="Persisted Prefect task results."
    )
    docker_base_image: str = Field(
        "local/python-base:3.11",
        description="Base image for model-server images; python:3.11-slim where a registry is reachable.",
    )
    serving_token: str | None = Field(None, description="Bearer token required on /invocations.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()
