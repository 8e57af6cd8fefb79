"""The local platform's background processes: start, find, health-check, stop.

Each service is one row of `SERVICES`: how to start it, where it listens, and
how to tell that it is healthy. A started service leaves a record under
`<state_dir>/platform/` (`<name>.json`: pid, kernel start time, port, URLs,
log file) and its log beside it; a record whose process is gone (or whose pid
was recycled by another program) is stale and is ignored.

The Prefect server is also started on its own by the flow commands when no
Prefect API is configured (`ensure_prefect`): one reusable server instead of a
temporary one per command. That one stops itself after an idle hour, unless
`mlcadence up` has claimed it (`up.json` exists).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from mlcadence.cli.processes import (
    HOST,
    Record,
    free_port,
    http_ok,
    port_is_free,
    process_start_time,
    stop,
    tail,
)
from mlcadence.errors import MlcadenceError

HEALTH_TIMEOUT = 180.0  # a first start creates Prefect's database: 7-16 s, more on a busy box
AUTO_IDLE_TIMEOUT = 3600.0  # an auto-started Prefect server's idle life, in seconds


class PlatformError(MlcadenceError):
    """A platform service could not be started or reached."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    cli_exit_code = 8


# -- where things live -----------------------------------------------------------
def platform_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "platform"


def up_marker(state_dir: Path) -> Path:
    """Exists while `mlcadence up` owns the platform (auto servers then never idle out)."""
    return platform_dir(state_dir) / "up.json"


def runner_socket(state_dir: Path) -> Path:
    return platform_dir(state_dir) / "runner.sock"


@contextlib.contextmanager
def platform_lock(state_dir: Path) -> Iterator[None]:
    """One process at a time starts or stops services (two `train`s on a fresh
    machine must not start two Prefect servers)."""
    root = platform_dir(state_dir)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# -- the services -------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """What the services' commands are built from."""

    state_dir: Path
    ports: dict[str, int]
    tracking_store: str
    artifacts_destination: str | None
    records: dict[str, Record]  # services already healthy, by name


@dataclass(frozen=True)
class Service:
    name: str
    title: str
    port_option: str | None  # the `mlcadence up` option that sets its port
    default_port: int | None
    phase: int  # services of a phase start together, after the earlier phases are healthy
    command: Callable[[Context, int | None], list[str]]
    environment: Callable[[Context], dict[str, str]]
    urls: Callable[[Context, int | None], tuple[str, str | None]]  # (shown URL, API URL)
    healthy: Callable[[Record, Context], bool]


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _prefect_command(ctx: Context, port: int | None) -> list[str]:
    return _python("-m", "mlcadence.cli.prefect_server", "--host", HOST, "--port", str(port))


def _prefect_urls(ctx: Context, port: int | None) -> tuple[str, str]:
    return f"http://{HOST}:{port}", f"http://{HOST}:{port}/api"


def _prefect_healthy(record: Record, ctx: Context) -> bool:
    return http_ok(f"{record.api_url}/health")


def _clients_environment(ctx: Context) -> dict[str, str]:
    """Processes that run flows talk to this platform's Prefect API and store."""
    return {
        "PREFECT_API_URL": ctx.records["prefect"].api_url or "",
        "MLCADENCE_TRACKING_URI": tracking_uri_of(ctx),
    }


def tracking_uri_of(ctx: Context) -> str:
    """What clients log to: the tracking server once our client speaks HTTP
    (a backend for http: is registered), else the store the server serves."""
    from mlcadence.tracking.backends import backend_table

    tracking = ctx.records.get("tracking")
    if tracking is not None and "http" in backend_table():
        return tracking.url
    return ctx.tracking_store


def _tracking_command(ctx: Context, port: int | None) -> list[str]:
    return _python(
        *("-m", "mlcadence.cli", "server", "--host", HOST, "--port", str(port)),
        *("--backend-store-uri", ctx.tracking_store),
        *("--artifacts-destination", ctx.artifacts_destination or "mlartifacts"),
    )


def _deployments_healthy(record: Record, ctx: Context) -> bool:
    # `serve` registers every deployment before it starts polling.
    api = ctx.records["prefect"].api_url
    return http_ok(f"{api}/deployments/name/training/train")


def _runner_urls(ctx: Context, port: int | None) -> tuple[str, None]:
    return f"unix:{runner_socket(ctx.state_dir)}", None


SERVICES: tuple[Service, ...] = (
    Service(
        name="prefect",
        title="Prefect server (UI + API)",
        port_option="--prefect-port",
        default_port=4200,
        phase=0,
        command=_prefect_command,
        environment=lambda ctx: {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
        urls=_prefect_urls,
        healthy=_prefect_healthy,
    ),
    Service(
        name="tracking",
        title="tracking server (MLflow REST API)",
        port_option="--tracking-port",
        default_port=5050,  # 5000 is `mlcadence serve`'s
        phase=0,
        command=_tracking_command,
        environment=lambda ctx: {},
        urls=lambda ctx, port: (f"http://{HOST}:{port}", None),
        healthy=lambda record, ctx: http_ok(f"{record.url}/health"),
    ),
    Service(
        name="deployments",
        title="prefect.yaml deployments (serve)",
        port_option=None,
        default_port=None,
        phase=1,
        command=lambda ctx, port: _python("-m", "mlcadence.flows.serve"),
        environment=_clients_environment,
        urls=lambda ctx, port: (f"{ctx.records['prefect'].url}/deployments", None),
        healthy=_deployments_healthy,
    ),
    Service(
        name="runner",
        title="warm runner for CLI flow commands",
        port_option=None,
        default_port=None,
        phase=1,
        command=lambda ctx, port: _python(
            "-m", "mlcadence.cli.warm_runner", str(runner_socket(ctx.state_dir))
        ),
        environment=_clients_environment,
        urls=_runner_urls,
        healthy=lambda record, ctx: socket_answers(runner_socket(ctx.state_dir)),
    ),
)
SERVICE_NAMES = tuple(service.name for service in SERVICES)


def service(name: str) -> Service:
    return next(s for s in SERVICES if s.name == name)


# -- records, starting and stopping ---------------------------------------------------
def record_path(state_dir: Path, name: str) -> Path:
    return platform_dir(state_dir) / f"{name}.json"


def read_record(state_dir: Path, name: str) -> Record | None:
    """The service's record if its process still runs; a stale one is removed."""
    path = record_path(state_dir, name)
    try:
        record = Record(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if record.alive():
        return record
    path.unlink(missing_ok=True)
    return None


def write_record(state_dir: Path, record: Record) -> None:
    path = record_path(state_dir, record.name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2))
    os.replace(tmp, path)


def socket_answers(path: Path, timeout: float = 2.0) -> bool:
    """The warm runner answers a ping (b"?") on its socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(path))
            conn.sendall(b"?")
            return conn.recv(1) == b"!"
    except OSError:
        return False


def spawn(svc: Service, ctx: Context, port: int | None, started_by: str) -> Record:
    """Start one service detached (its own session, so it outlives this command
    and `down` can stop its whole process group)."""
    root = platform_dir(ctx.state_dir)
    log = root / f"{svc.name}.log"
    env = {**os.environ, **svc.environment(ctx)}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            svc.command(ctx, port),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=root,
        )
    url, api_url = svc.urls(ctx, port)
    record = Record(
        name=svc.name,
        pid=process.pid,
        proc_start=process_start_time(process.pid),
        port=port,
        url=url,
        api_url=api_url,
        log=str(log),
        started_by=started_by,
    )
    write_record(ctx.state_dir, record)
    return record


def wait_healthy(svc: Service, record: Record, ctx: Context, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not record.alive():
            raise PlatformError(
                f"the {svc.title} exited while starting; see its log {record.log}:\n"
                f"{tail(record.log)}"
            )
        if svc.healthy(record, ctx):
            return
        if time.monotonic() > deadline:
            stop(record)
            raise PlatformError(
                f"the {svc.title} was not healthy after {timeout:.0f} s; see its log "
                f"{record.log}:\n{tail(record.log)}"
            )
        time.sleep(0.2)


# -- the platform as a whole -------------------------------------------------------------
@dataclass
class Started:
    record: Record
    already_running: bool


def up(
    state_dir: Path,
    ports: dict[str, int],
    tracking_store: str,
    artifacts_destination: str | None = None,
    timeout: float = HEALTH_TIMEOUT,
) -> list[Started]:
    """Start every service not already running, phase by phase; wait until each
    is healthy. A busy port names the option that moves it."""
    with platform_lock(state_dir):
        results: list[Started] = []
        records = {name: r for name in SERVICE_NAMES if (r := read_record(state_dir, name))}
        if records:  # partly up: the running services keep the store they were given
            tracking_store = up_tracking_uri(state_dir) or tracking_store
        ctx = Context(state_dir, ports, tracking_store, artifacts_destination, records)
        for svc in SERVICES:  # every port before anything starts
            port = ports.get(svc.name, svc.default_port)
            if svc.name not in records and port is not None and not port_is_free(port):
                raise PlatformError(
                    f"port {port} for the {svc.title} is in use; choose another with "
                    f"{svc.port_option}",
                    "INVALID_PARAMETER_VALUE",
                )
        try:
            for phase in sorted({s.phase for s in SERVICES}):
                starting = []
                for svc in (s for s in SERVICES if s.phase == phase):
                    if svc.name in records:
                        results.append(Started(records[svc.name], already_running=True))
                        continue
                    port = ports.get(svc.name, svc.default_port)
                    starting.append((svc, spawn(svc, ctx, port, "up")))
                    results.append(Started(starting[-1][1], already_running=False))
                for svc, record in starting:
                    wait_healthy(svc, record, ctx, timeout)
                    records[svc.name] = record
        except BaseException:
            # A half-started platform is worse than none: stop what this call started.
            for item in reversed(results):
                if not item.already_running:
                    stop(item.record)
                    record_path(state_dir, item.record.name).unlink(missing_ok=True)
            raise
        marker = {"tracking_uri": tracking_uri_of(ctx), "at": time.time()}
        up_marker(state_dir).write_text(json.dumps(marker))
        return results


def up_tracking_uri(state_dir: Path) -> str | None:
    """The tracking URI of the running platform (None when it is not up)."""
    try:
        return json.loads(up_marker(state_dir).read_text())["tracking_uri"]
    except (OSError, ValueError, KeyError):
        return None


def down(state_dir: Path) -> list[Record]:
    """Stop every running service, the later phases first; returns those stopped."""
    with platform_lock(state_dir):
        stopped = []
        for svc in sorted(SERVICES, key=lambda s: -s.phase):
            record = read_record(state_dir, svc.name)
            if record is not None:
                stop(record)
                stopped.append(record)
            record_path(state_dir, svc.name).unlink(missing_ok=True)
        up_marker(state_dir).unlink(missing_ok=True)
        runner_socket(state_dir).unlink(missing_ok=True)
        return stopped


@dataclass
class Status:
    service: Service
    record: Record | None
    healthy: bool


def status(state_dir: Path) -> list[Status]:
    records = {name: r for name in SERVICE_NAMES if (r := read_record(state_dir, name))}
    ctx = Context(state_dir, {}, "", None, records)
    out = []
    for svc in SERVICES:
        record = records.get(svc.name)
        healthy = False
        if record is not None:
            with contextlib.suppress(KeyError):  # a dependency is down
                healthy = svc.healthy(record, ctx)
        out.append(Status(svc, record, healthy))
    return out


def ensure_prefect(state_dir: Path, notice: Callable[[str], None]) -> str:
    """The Prefect API URL of this machine's reusable server, started now
    (detached, idle-timed) if none runs. Later commands reuse it, which saves
    the temporary server Prefect would otherwise start in every command."""
    svc = service("prefect")
    ctx = Context(state_dir, {}, "", None, {})
    record = read_record(state_dir, "prefect")
    if record is not None and svc.healthy(record, ctx):
        return record.api_url or ""
    with platform_lock(state_dir):
        record = read_record(state_dir, "prefect")
        if record is not None:  # started by another command meanwhile, or still starting
            wait_healthy(svc, record, ctx, HEALTH_TIMEOUT)
            return record.api_url or ""
        # The usual port when free (its URL is the one people know), else any.
        port = svc.default_port if port_is_free(svc.default_port or 0) else free_port()
        record = _spawn_auto_prefect(svc, ctx, port)
        notice(
            f"Starting a local Prefect server for this and later commands: {record.url} "
            f"(log {record.log}; it stops after an idle hour, or with `mlcadence down`)"
        )
        wait_healthy(svc, record, ctx, HEALTH_TIMEOUT)
        return record.api_url or ""


def _auto_prefect_command(ctx: Context, port: int | None) -> list[str]:
    idle = [
        "--idle-timeout",
        str(AUTO_IDLE_TIMEOUT),
        "--unless-exists",
        str(up_marker(ctx.state_dir)),
    ]
    return _prefect_command(ctx, port) + idle


def _spawn_auto_prefect(svc: Service, ctx: Context, port: int) -> Record:
    return spawn(replace(svc, command=_auto_prefect_command), ctx, port, "auto")


def client_environment(state_dir: Path) -> dict[str, str]:
    """Variables a CLI command takes from the running platform: the Prefect API
    and the tracking store (only for what the caller's environment leaves unset)."""
    found = {}
    prefect = read_record(state_dir, "prefect")
    if prefect is not None and prefect.api_url:
        found["PREFECT_API_URL"] = prefect.api_url
    store = up_tracking_uri(state_dir)
    if store and read_record(state_dir, "tracking") is not None:
        found["MLCADENCE_TRACKING_URI"] = store
    return found
