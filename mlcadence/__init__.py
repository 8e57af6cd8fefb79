"""mlcadence: the ML lifecycle as Prefect flows, in MLflow's formats.

`import mlcadence` reads like `import mlflow`: the fluent tracking API
(`mlcadence.start_run`, `mlcadence.log_metric`, `mlcadence.Client`, ...) is
re-exported from `mlcadence.tracking`. It is resolved on first use, so that
importing a bottom module (`mlcadence.settings`, `mlcadence.errors`) does not
pull in the tracking layer.
"""

from __future__ import annotations

import importlib

from mlcadence.version import __version__ as __version__

# Names that are subpackages or modules of mlcadence itself; never looked up
# in the tracking API (the import system asks for them while importing).
_OWN_MODULES = frozenset(
    {
        "cli",
        "containers",
        "errors",
        "flows",
        "pipeline",
        "projects",
        "serving",
        "settings",
        "tasks",
        "tracking",
        "version",
    }
)


def _tracking_api():
    return importlib.import_module("mlcadence.tracking")


def __getattr__(name: str):
    if name.startswith("_") or name in _OWN_MODULES:
        raise AttributeError(f"module 'mlcadence' has no attribute {name!r}")
    api = _tracking_api()
    if name not in api.__all__:
        raise AttributeError(f"module 'mlcadence' has no attribute {name!r}")
    value = getattr(api, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_tracking_api().__all__})
