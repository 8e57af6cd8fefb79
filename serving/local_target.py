"""The `local` deploy target: the scoring server as a detached process.

State lives under `settings.state_dir/deployments/local/`: one JSON record per
deployment name, the server's log, and the small state file each server writes
once it has bound its ports. A new deployment on a port that is already served
binds the same port with SO_REUSEPORT (both processes listen for a moment),
is health-checked on its private admin port (so the check cannot be answered
by the old process), and only then is the old process stopped. If the new
one does not become healthy with the expected version, it is killed and the
old one keeps serving.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlcadence.serving.deploy import DeploymentRecord, health_check
from mlcadence.serving.errors import DeployError, DeploymentNotFound

HEALTH_TIMEOUT = 180.0  # seconds for import + load + warm-up on a busy box
STOP_TIMEOUT = 30.0


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


def _reachable(host: str) -> str:
    """The address a client on this machine uses for a server bound to `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


class LocalTarget:
    name = "local"

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else _state_root()

    # ------------------------------------------------------------ records
    def _record_path(self, name: str) -> Path:
        return self.root / f"{name}.json"

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
        path = self._record_path(record.name)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record.to_dict(), indent=2))
        os.replace(tmp, path)

    # ------------------------------------------------------------ protocol
    def list(self) -> list[DeploymentRecord]:
        records = self._records()
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
        **_ignored,
    ) -> DeploymentRecord:
        previous = [r for r in self._records() if (r.port == port or r.name == name) and _alive(r)]
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
                "host": host,
                "workers": workers,
                "state_file": str(state_file),
            },
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
                self._record_path(old.name).unlink(missing_ok=True)
        self._save(record)
        return record

    def stop(self, name_or_port: str | int) -> DeploymentRecord:
        key = str(name_or_port)
        matches = [r for r in self._records() if r.name == key or str(r.port) == key]
        if not matches:
            raise DeploymentNotFound(
                f"No local deployment named or on port {key!r}; see `mlcadence deployments list`."
            )
        for record in matches:
            if _alive(record):
                self._terminate(int(record.handle))
            self._record_path(record.name).unlink(missing_ok=True)
            record.status = "stopped"
        return matches[0]

    # ------------------------------------------------------------ process
    def _spawn(self, model_uri, host, port, workers, log_path, state_file, server_args, env):
        # The server runs on this interpreter, where mlcadence is installed;
        # nothing is added to its path, so the caller's folders cannot shadow it.
        full_env = {**os.environ, **env}
        try:
            from mlcadence.tracking.tracking_uri import get_tracking_uri

            uri = get_tracking_uri()
            # A relative store path must mean the same store for the server.
            if "://" not in uri and not uri.startswith("file:"):
                uri = str(Path(uri).resolve())
            full_env.setdefault("MLCADENCE_TRACKING_URI", uri)
        except Exception:  # noqa: BLE001 - path URIs need no tracking store
            pass
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
