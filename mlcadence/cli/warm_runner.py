"""A warm process that runs the CLI's flow commands for `mlcadence up`.

A flow command pays about 2-3 s before any work: importing Prefect, pandas
and scikit-learn. The runner pays that once: it imports them, then listens on
a Unix socket. For each command it forks; the child takes over the caller's
terminal (its stdin, stdout and stderr, passed over the socket), environment,
working directory and arguments, runs the command exactly as `mlcadence`
would, and reports the exit status. The caller forwards Ctrl-C (and SIGTERM)
to the child, so an interrupted flow still marks its run KILLED, and a child
whose caller disappears is interrupted the same way.

    python -m mlcadence.cli.warm_runner SOCKET_PATH     (started by `mlcadence up`)

Protocol, one connection per command: the caller sends b"R", a 4-byte length
and a JSON request (argv, env, cwd, umask) with its three standard file
descriptors attached; the runner answers the child's pid, then its exit
status (4 bytes each, network order) once the command is done; the child may
still be handing its last logs to the Prefect API then. b"?" is a health ping,
answered b"!".
"""

from __future__ import annotations

import array
import json
import os
import signal
import socket
import struct
import sys
import threading
from pathlib import Path

# The commands that run flows: the ones worth a warm process.
FORWARDED_COMMANDS = ("train", "retrain", "sweep")
# What a flow command imports, found by comparing sys.modules before and after
# a `train` (Prefect imports FastAPI to serialize parameters, graphviz and
# filelock lazily; scikit-learn imports narwhals when given a DataFrame).
PRELOADED = (
    "mlcadence.cli",
    "mlcadence.flows.training",
    "mlcadence.flows.retraining",
    "mlcadence.flows.sweep",
    "mlcadence.tracking.backends.file",
    "mlcadence.tracking.backends.sql",
    "mlcadence.tracking.models",
    "mlcadence.tracking.registry",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "narwhals",
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.client.orchestration",
    "prefect.events.clients",
    "prefect.logging.handlers",
    "prefect.artifacts",
    "fastapi",
    "fastapi.encoders",
    "graphviz",
    "filelock",
)
_INT = struct.Struct("!i")


# -- the runner ------------------------------------------------------------------------
def preload() -> None:
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)


def serve(path: Path) -> socket.socket:
    """Accept commands until SIGTERM; returns only in a forked child, with the
    caller's connection."""
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Whoever may connect runs commands as this user: the owner only.
    old_mask = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_mask)
    listener.listen(16)

    def terminate(signum, frame):
        path.unlink(missing_ok=True)
        os._exit(0)  # children are in our process group: `down` stops them too

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    signal.signal(signal.SIGCHLD, _reap_children)
    print(f"warm runner ready on {path} (pid {os.getpid()})", flush=True)
    while True:
        conn, _ = listener.accept()
        conn.settimeout(5.0)  # a caller that sends nothing must not stall the others
        try:
            kind = conn.recv(1) if _same_user(conn) else b""
        except OSError:
            kind = b""
        if kind == b"?":
            conn.sendall(b"!")
        elif kind == b"R" and os.fork() == 0:
            listener.close()
            conn.settimeout(None)
            return conn
        conn.close()


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def _reap_children(signum, frame) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    fds = array.array("i")
    data, ancillary, _, _ = conn.recvmsg(65536, socket.CMSG_LEN(3 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    (size,) = _INT.unpack(data[: _INT.size])
    body = data[_INT.size :]
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ConnectionError("the caller went away")
        body += chunk
    return json.loads(body), list(fds)


def run_child(conn: socket.socket) -> int:
    """In the forked child: become the caller's command and run it."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    request, fds = _receive(conn)
    if len(request["argv"]) < 2 or request["argv"][1] not in FORWARDED_COMMANDS:
        return 2  # only the flow commands run here
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")  # noqa: SIM115
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    sys.argv = request["argv"]
    conn.sendall(_INT.pack(os.getpid()))
    finished = threading.Event()
    threading.Thread(
        target=_interrupt_when_caller_leaves, args=(conn, finished), daemon=True
    ).start()

    # Our settings are read anew from the caller's environment, as a new
    # process would; Prefect's are, by the flow commands (`_run_flow`).
    from mlcadence.cli import run_command
    from mlcadence.settings import reload_settings

    reload_settings()
    code = run_command()
    sys.stdout.flush()
    sys.stderr.flush()
    # The command is done (its tracking run closed): the caller may go while
    # this process still hands its last logs and events to the Prefect API.
    finished.set()
    try:
        conn.sendall(_INT.pack(code))
    except OSError:
        pass
    return code


def _interrupt_when_caller_leaves(conn: socket.socket, finished: threading.Event) -> None:
    try:
        while conn.recv(64):
            pass
    except OSError:
        pass
    if not finished.is_set():
        os.kill(os.getpid(), signal.SIGINT)


# -- the caller ------------------------------------------------------------------------
def forward(path: Path, argv: list[str]) -> int | None:
    """Run `argv` in the warm runner at `path`; None when no runner answers
    (the caller then runs the command itself)."""
    if len(argv) < 2 or argv[1] not in FORWARDED_COMMANDS or not path.exists():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    with conn:
        body = json.dumps(
            {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "umask": _umask()}
        ).encode()
        fds = [_usable_fd(fd) for fd in (0, 1, 2)]
        conn.sendall(b"R")
        socket.send_fds(conn, [_INT.pack(len(body)) + body], fds)
        pid = _read_int(conn)
        if pid is None:
            return None
        previous = {
            sig: signal.signal(sig, lambda signum, frame: _pass_on(pid, signum))
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        try:
            code = _read_int(conn)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    if code is None:
        print("error: the warm runner's process ended without an exit status", file=sys.stderr)
        return 1
    return code


def _pass_on(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _usable_fd(fd: int) -> int:
    try:
        os.fstat(fd)
        return fd
    except OSError:  # closed (e.g. no stdin under CI): hand over /dev/null instead
        return os.open(os.devnull, os.O_RDWR)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _read_int(conn: socket.socket) -> int | None:
    data = b""
    while len(data) < _INT.size:
        try:
            chunk = conn.recv(_INT.size - len(data))
        except InterruptedError:
            continue
        if not chunk:
            return None
        data += chunk
    return _INT.unpack(data)[0]


def main() -> None:
    path = Path(sys.argv[1])
    preload()
    conn = serve(path)
    sys.exit(run_child(conn))


if __name__ == "__main__":
    main()
