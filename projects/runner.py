"""Run an MLproject entry point inside a tracking run (the `mlflow run` equivalent).

Order matters: everything that can be checked without running (the URI,
MLproject, parameters, the env manager being usable) is checked before a
tracking run is opened, so a typo never leaves a FAILED run behind. Once the
run exists it always ends: FINISHED on exit code 0, FAILED otherwise, KILLED
on interrupt.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlcadence.projects.environments import Execution, OutputSink, get_env_manager, print_sink
from mlcadence.projects.errors import ExecutionFailed, InvalidParameters
from mlcadence.projects.fetch import fetch
from mlcadence.projects.spec import DEFAULT_ENTRY_POINT, load_project
from mlcadence.tracking.conventions import DEFAULT_EXPERIMENT_NAME


@dataclass(frozen=True)
class ProjectRun:
    run_id: str
    experiment_id: str
    status: str  # FINISHED | FAILED | KILLED
    exit_code: int | None
    command: str
    env_manager: str
    directory: Path


def projects_cache_dir() -> Path:
    from mlcadence.settings import get_settings

    return Path(get_settings().cache_dir) / "projects"


def parse_parameter_args(args: list[str]) -> dict[str, str]:
    """`-P name=value` arguments as a dict (split on the first '=')."""
    params: dict[str, str] = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if not sep or not name:
            raise InvalidParameters(f"Invalid format for -P parameter: '{arg}'. Use -P name=value.")
        if name in params:
            raise InvalidParameters(f"Repeated parameter: '{name}'. Give each parameter once.")
        params[name] = value
    return params


def _experiment_id(client, experiment: str | None) -> str:
    """`experiment` is a name or an id; None means the default experiment."""
    from mlcadence.tracking.errors import NotFound

    if experiment is None:
        from mlcadence.settings import get_settings

        experiment = get_settings().experiment_name or None
    if experiment is None:
        try:
            return client.get_experiment("0").experiment_id
        except NotFound:
            experiment = DEFAULT_EXPERIMENT_NAME
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    if experiment.isdigit():
        try:
            return client.get_experiment(experiment).experiment_id
        except NotFound:
            pass
    return str(client.create_experiment(experiment))


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return "unknown"


def run(
    uri: str,
    entry_point: str = DEFAULT_ENTRY_POINT,
    parameters: Mapping[str, object] | None = None,
    env_manager: str | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    build_image: bool = False,
    version: str | None = None,
    tracking_uri: str | None = None,
    output: OutputSink = print_sink,
    raise_on_failure: bool = True,
) -> ProjectRun:
    from mlcadence.tracking import Client
    from mlcadence.tracking.tracking_uri import run_environment

    cache_dir = projects_cache_dir()
    fetched = fetch(uri, version, cache_dir)
    project = load_project(fetched.directory)
    entry = project.get_entry_point(entry_point)
    computed = entry.compute_parameters(parameters, project.directory)
    command = entry.command_for(computed)
    manager_name = env_manager or project.environment.default_manager
    manager = get_env_manager(manager_name)
    manager.check(project)

    client = Client(tracking_uri)
    experiment_id = _experiment_id(client, experiment)
    tags = {
        "mlflow.user": _user(),
        "mlflow.source.name": fetched.source_name,
        "mlflow.source.type": "PROJECT",
        "mlflow.project.entryPoint": entry.name,
        "mlflow.project.env": manager_name,
        "mlflow.project.backend": "local",
    }
    for key, value in (
        ("mlflow.source.git.commit", fetched.git_commit),
        ("mlflow.source.git.repoURL", fetched.git_repo_url),
        ("mlflow.source.git.branch", fetched.git_branch),
    ):
        if value:
            tags[key] = value
    tracking_run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    run_id = tracking_run.info.run_id
    status, exit_code = "FAILED", None
    try:
        # What the user asked for (declared and extra), as given: paths
        # unresolved, nothing shell-quoted.
        logged = {
            **{
                name: str((parameters or {}).get(name, p.default))
                for name, p in entry.parameters.items()
            },
            **computed.extra,
        }
        if logged:
            client.log_batch(run_id, params=_params(logged))
        execution = Execution(
            project=project,
            command=command,
            env=run_environment(run_id, experiment_id, client.tracking_uri),
            tracking_uri=client.tracking_uri,
            run_id=run_id,
            experiment_id=experiment_id,
            artifact_uri=tracking_run.info.artifact_uri,
            cache_dir=cache_dir,
            build_image=build_image,
            git_commit=fetched.git_commit,
            output=output,
            set_tag=lambda k, v: client.set_tag(run_id, k, v),
        )
        output(f"=== Running command '{command}' in run {run_id} ({manager_name}) ===\n")
        exit_code = manager.execute(execution)
        status = "FINISHED" if exit_code == 0 else "FAILED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        client.set_terminated(run_id, status)
    result = ProjectRun(
        run_id, experiment_id, status, exit_code, command, manager_name, project.directory
    )
    if status != "FINISHED" and raise_on_failure:
        raise ExecutionFailed(
            f"Run {run_id} failed: entry point '{entry.name}' exited with code {exit_code}. "
            "See its output above.",
            run_id=run_id,
            exit_code=exit_code,
        )
    return result


def _params(values: Mapping[str, str]):
    from mlcadence.tracking.entities import Param

    return [Param(k, v) for k, v in values.items()]
