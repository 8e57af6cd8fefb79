"""The `local` deploy target: the scoring server as a detached process.

State lives under `settings.state_dir/deployments/local/`: one JSON record per
deployment name, the server's log, and the small state file each server writes
once it has bound its ports. A new deployment on a port that is already served
binds the same port with SO_REUSEPORT (both processes listen for a moment),
is health-checked on its private admin port (so the check cannot be answered
by the old process), and only then is the old process stopped. If the new
one does not become healthy with the expected version, it is killed and the
old one keeps serving.

A deployment of an alias (`models:/name@champion`) follows it by itself (the
server's hot reload). Deploying the same alias again with the same options,
as the promotion event does, therefore starts nothing: it waits until the
running server reports the alias's new version, and replaces the process only
when that does not happen (e.g. its hot reload failed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlcadence.serving.deploy import (
    DeploymentRecord,
    health_check,
    port_taken_by_other_store,
    refuse_foreign_port,
    store_id,
)
from mlcadence.serving.errors import DeployError, DeploymentNotFound

HEALTH_TIMEOUT = 180.0  # seconds for import + load + warm-up on a busy box
STOP_TIMEOUT = 30.0
# How long a running alias deployment gets to hot-reload the new version
# before it is replaced: a few of the server's registry polls (10 s default).
FOLLOW_TIMEOUT = 45.0


def _state_root() -> Path:
    from mlcadence.settings import get_settings

    return Path(get_settings().state_dir) / "deployments" / "local"


def _process_start_time(pid: int) -> str | None:
    """Kernel start time of `pid`, to tell our server from a recycled pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(record: DeploymentRecord) -> bool:
    if not record.handle:
        return False
    pid = int(record.handle)
    started = _process_start_time(pid)
    if started is None:
        try:
            os.kill(pid, 0)  # no /proc (not Linux): best effort
        except OSError:
            return False
        return True
    return started == record.details.get("proc_start")


def _tail(path: str | None, lines: int = 30) -> str:
    if not path:
        return ""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _server_tracking_uri(given: str | None) -> str:
    """The store the server reads, as an absolute URI: a relative store path
    must mean the same store for the server, whatever its working directory."""
    from mlcadence.tracking.tracking_uri import get_tracking_uri, normalize_uri

    return normalize_uri(given) if given else get_tracking_uri()


def _follows(record: DeploymentRecord, model_uri: str, name: str, port: int, options) -> bool:
    """Whether `record` is this very alias deployment, so its hot reload
    already does what a redeploy would."""
    same_options = all(record.details.get(k) == v for k, v in options.items())
    return (
        "@" in model_uri
        and record.model_uri == model_uri
        and (record.name, record.port) == (name, port)
        and same_options
    )


def _reload_failed_on(admin_port: int, version: str | None) -> bool:
    import httpx

    try:
        failure = (
            httpx.get(f"http://127.0.0.1:{admin_port}/health", timeout=5)
            .json()
            .get("last_reload_error")
        )
    except (httpx.HTTPError, ValueError):
        return False
    return bool(failure) and str(failure.get("version")) == str(version)


def _reachable(host: str) -> str:
    """The address a client on this machine uses for a server bound to `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


class LocalTarget:
    name = "local"

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else _state_root()

    # ------------------------------------------------------------ records
    def _record_path(self, name: str, store: str | None) -> Path:
        return self.root / (f"{name}.{store}.json" if store else f"{name}.json")

    def _records(self) -> list[DeploymentRecord]:
        if not self.root.exists():
            return []
        out = []
        for path in sorted(self.root.glob("*.json")):
            if path.name.endswith(".state.json"):
                continue
            try:
                out.append(DeploymentRecord.from_dict(json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                continue
        return out

    def _save(self, record: DeploymentRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._record_path(record.name, record.store)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record.to_dict(), indent=2))
        os.replace(tmp, path)

    # ------------------------------------------------------------ protocol
    def list(self, store: str | None = None) -> list[DeploymentRecord]:
        records = [r for r in self._records() if store is None or r.store == store]
        for record in records:
            record.status = "running" if _alive(record) else "dead"
        return records

    def deploy(
        self,
        model_uri: str,
        name: str,
        version: str | None,
        port: int,
        *,
        host: str = "127.0.0.1",
        workers: int = 1,
        health_timeout: float = HEALTH_TIMEOUT,
        server_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        tracking_uri: str | None = None,
        **_ignored,
    ) -> DeploymentRecord:
        tracking_uri = _server_tracking_uri(tracking_uri)
        store = store_id(tracking_uri)
        running = self.list()
        if foreign := port_taken_by_other_store(running, port, store):
            raise refuse_foreign_port(foreign)
        previous = [
            r
            for r in running
            if r.store == store and r.status == "running" and (r.port == port or r.name == name)
        ]
        options = {"host": host, "workers": workers, "server_args": server_args or []}
        for old in previous:
            if _follows(old, model_uri, name, port, options) and self._caught_up(old, version):
                old.version = version
                old.details["followed_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                self._save(old)
                return old
        env = {"MLCADENCE_TRACKING_URI": tracking_uri, **(env or {})}
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.monotonic_ns() % 10**6}"
        log_path = self.root / f"{name}-{port}-{stamp}.log"
        state_file = self.root / f"{name}-{port}-{stamp}.state.json"
        proc = self._spawn(
            model_uri, host, port, workers, log_path, state_file, server_args or [], env or {}
        )
        record = DeploymentRecord(
            name=name,
            target=self.name,
            model_uri=model_uri,
            port=port,
            endpoint=f"http://{_reachable(host)}:{port}/invocations",
            version=version,
            handle=str(proc.pid),
            log_path=str(log_path),
            details={
                "proc_start": _process_start_time(proc.pid),
                **options,
                "state_file": str(state_file),
            },
            store=store,
        )
        try:
            admin_port = self._wait_healthy(proc, state_file, version, health_timeout, log_path)
        except DeployError:
            self._terminate(proc.pid)
            raise
        record.details["admin_port"] = admin_port
        # The new server is serving; now retire the one(s) it replaces.
        for old in previous:
            self._terminate(int(old.handle))
            if old.name != name:
                self._record_path(old.name, old.store).unlink(missing_ok=True)
        self._save(record)
        return record

    def _caught_up(self, record: DeploymentRecord, version: str | None) -> bool:
        """True once the running alias deployment reports `version`; False when
        its hot reload failed on that version or did not get there in time."""
        admin = record.details.get("admin_port")
        if not admin:
            return False
        deadline = time.monotonic() + FOLLOW_TIMEOUT
        while time.monotonic() < deadline and _alive(record):
            healthy, _ = health_check(admin, version)
            if healthy:
                return True
            if _reload_failed_on(admin, version):
                return False
            time.sleep(0.5)
        return False

    def stop(self, name_or_port: str | int, store: str | None = None) -> DeploymentRecord:
        key = str(name_or_port)
        matches = [r for r in self.list(store) if r.name == key or str(r.port) == key]
        if not matches:
            raise DeploymentNotFound(
                f"No local deployment named or on port {key!r}"
                + ("" if store is None else " of this tracking store")
                + "; see `mlcadence deployments list --all-stores`."
            )
        for record in matches:
            if _alive(record):
                self._terminate(int(record.handle))
            self._record_path(record.name, record.store).unlink(missing_ok=True)
            record.status = "stopped"
        return matches[0]

    # ------------------------------------------------------------ process
    def _spawn(self, model_uri, host, port, workers, log_path, state_file, server_args, env):
        # The server runs on this interpreter, where mlcadence is installed;
        # nothing is added to its path, so the caller's folders cannot shadow it.
        full_env = {**os.environ, **env}
        cmd = [
            sys.executable,
            "-m",
            "mlcadence.serving.server",
            "-m",
            model_uri,
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--reuse-port",
            "--admin-port",
            "0",
            "--state-file",
            str(state_file),
            *server_args,
        ]
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                start_new_session=True,
                close_fds=True,
            )

    def _wait_healthy(self, proc, state_file: Path, version, timeout, log_path) -> int:
        """The new server's admin port, once its /health reports `version`."""
        deadline = time.monotonic() + timeout
        admin = None
        last = "no answer yet"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DeployError(
                    f"The server exited with code {proc.returncode} before becoming healthy; "
                    f"the previous deployment (if any) keeps serving. Log {log_path}:\n"
                    f"{_tail(str(log_path))}"
                )
            if admin is None and state_file.exists():
                try:
                    admin = json.loads(state_file.read_text()).get("admin_port")
                except ValueError:
                    admin = None
            if admin:
                healthy, last = health_check(admin, version)
                if healthy:
                    return admin
            time.sleep(0.2)
        raise DeployError(
            f"The new server did not report version {version} healthy within {timeout:.0f} s "
            f"({last}); it was stopped and the previous deployment (if any) keeps serving. "
            f"Log {log_path}:\n{_tail(str(log_path))}"
        )

    @staticmethod
    def _terminate(pid: int) -> None:
        """SIGTERM the server's process group (uvicorn drains in-flight requests),
        SIGKILL if it is still there after STOP_TIMEOUT."""
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                finished, _ = os.waitpid(pid, os.WNOHANG)  # reap if it is our child
                if finished:
                    return
            except ChildProcessError:
                pass
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
