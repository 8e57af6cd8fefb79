"""Environment managers, looked up by name (the --env-manager value)."""

from __future__ import annotations

from mlcadence.projects.environments.base import EnvManager, Execution, OutputSink, print_sink
from mlcadence.projects.environments.conda import CondaEnv
from mlcadence.projects.environments.docker import DockerEnvManager
from mlcadence.projects.environments.local import LocalEnv
from mlcadence.projects.environments.virtualenv import VirtualenvEnv
from mlcadence.projects.errors import InvalidParameters

ENV_MANAGERS: dict[str, type] = {
    "local": LocalEnv,
    "virtualenv": VirtualenvEnv,
    "docker": DockerEnvManager,
    "conda": CondaEnv,
}


def get_env_manager(name: str) -> EnvManager:
    try:
        return ENV_MANAGERS[name]()
    except KeyError:
        raise InvalidParameters(
            f"Unknown env manager '{name}'. Use one of {sorted(ENV_MANAGERS)}."
        ) from None


__all__ = ["ENV_MANAGERS", "EnvManager", "Execution", "OutputSink", "get_env_manager", "print_sink"]
