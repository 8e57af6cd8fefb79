"""Serve prefect.yaml's deployments without a work pool or worker:

    export PREFECT_API_URL=http://127.0.0.1:4200/api
    python -m mlcadence.flows.serve [path/to/prefect.yaml]

prefect.yaml is the one list of deployments (`prefect deploy --all` reads it
too); this module turns each entry into `flow.to_deployment(...)`: name,
entrypoint, parameters, tags, description, schedules, concurrency limit and
triggers. The process registers them, then runs their flow runs as its own
subprocesses until stopped (Ctrl-C pauses the schedules). Restart it to pick
up code changes. Entries that run in a container (a Docker pool's, with an
`image` job variable) are left to that pool's worker: serve runs processes.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import yaml

from mlcadence.pipeline.errors import InvalidConfig

# The checkout's prefect.yaml (this package is installed from it, editable).
PREFECT_YAML = Path(__file__).resolve().parents[1] / "prefect.yaml"
SERVE_LIMIT = 4  # flow runs at once in this process


def runs_in_container(entry: dict[str, Any]) -> bool:
    return "image" in ((entry.get("work_pool") or {}).get("job_variables") or {})


def read_deployments(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The `deployments:` entries of a prefect.yaml that run as processes."""
    if not path.is_file():
        raise InvalidConfig(
            f"no prefect.yaml at {path}: give its path, "
            "e.g. `python -m mlcadence.flows.serve ./prefect.yaml`"
        )
    entries = yaml.safe_load(path.read_text()).get("deployments") or []
    return [entry for entry in entries if not runs_in_container(entry)]


def load_flow(entrypoint: str):
    """`package.module:flow_name` → the flow object."""
    module, _, name = entrypoint.partition(":")
    return getattr(importlib.import_module(module), name)


def _cron(spec: dict[str, Any]):
    from prefect.schedules import Cron

    return Cron(spec["cron"], timezone=spec.get("timezone"), active=spec.get("active", True))


def _interval(spec: dict[str, Any]):
    from prefect.schedules import Interval

    return Interval(
        spec["interval"], timezone=spec.get("timezone"), active=spec.get("active", True)
    )


SCHEDULE_KINDS = {"cron": _cron, "interval": _interval}


def schedule_from(spec: dict[str, Any]):
    for kind, build in SCHEDULE_KINDS.items():
        if kind in spec:
            return build(spec)
    raise InvalidConfig(
        f"prefect.yaml schedule {spec} has none of {', '.join(SCHEDULE_KINDS)}: "
        "serve supports those kinds"
    )


def trigger_from(spec: dict[str, Any]):
    from prefect.events import DeploymentEventTrigger

    return DeploymentEventTrigger(**spec)


def to_deployment(entry: dict[str, Any]):
    """One prefect.yaml entry as the RunnerDeployment `serve` registers."""
    from prefect.deployments.runner import EntrypointType

    return load_flow(entry["entrypoint"]).to_deployment(
        name=entry["name"],
        # By module, as prefect.yaml names it: runs find the installed package
        # wherever the process was started.
        entrypoint_type=EntrypointType.MODULE_PATH,
        description=entry.get("description"),
        tags=entry.get("tags"),
        parameters=entry.get("parameters") or {},
        schedules=[schedule_from(s) for s in entry.get("schedules") or []],
        concurrency_limit=entry.get("concurrency_limit"),
        triggers=[trigger_from(t) for t in entry.get("triggers") or []],
    )


def deployments(path: Path = PREFECT_YAML) -> list:
    return [to_deployment(entry) for entry in read_deployments(path)]


def main(argv: list[str] | None = None) -> None:
    from prefect import serve

    args = sys.argv[1:] if argv is None else argv
    serve(*deployments(Path(args[0]) if args else PREFECT_YAML), limit=SERVE_LIMIT)


if __name__ == "__main__":
    main()
