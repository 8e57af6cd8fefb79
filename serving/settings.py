"""The server's settings as the entry points read them: the environment
(`MLCADENCE_SERVING_*`, see `mlcadence.settings.ServingSettings`), then the
values given explicitly. Read once per process and passed down as a value."""

from __future__ import annotations

from pydantic import ValidationError

from mlcadence.serving.errors import InvalidSetting
from mlcadence.settings import ServingSettings


def option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def env_name(field: str) -> str:
    return f"{ServingSettings.model_config['env_prefix']}{field.upper()}"


def read_settings(**given) -> ServingSettings:
    """ServingSettings from the environment, with `given` values (None = not
    given) winning; a bad value names the option and the variable to fix."""
    try:
        return ServingSettings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{option_name(str(e['loc'][0]))} / {env_name(str(e['loc'][0]))}: {e['msg']}"
            if e["loc"]
            else e["msg"]
            for e in exc.errors()
        )
        raise InvalidSetting(f"Invalid serving setting ({problems}).") from None
