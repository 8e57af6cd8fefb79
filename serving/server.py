"""Run the scoring server: `python -m mlcadence.serving.server --model-uri URI [...]`.

Kept free of Typer/Prefect/MLflow imports so a server process starts fast.
The model is loaded *before* the port is bound, so a process sharing a port
with an older server (SO_REUSEPORT, used by local deployments) takes traffic
only once it can answer it. `--admin-port` adds a private listener that health
checks can target without the kernel sending them to the older process.
"""

from __future__ import annotations

import argparse
import errno
import gc
import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path

from mlcadence.serving.errors import InvalidSetting, PortInUse
from mlcadence.settings import ServingSettings

log = logging.getLogger("mlcadence.serving")

# Seconds between SIGTERM and exit during which the server stops listening but
# still answers requests on open connections, each with `Connection: close`.
# Clients then reconnect to whoever still listens (the new deployment sharing
# the port), instead of sending into a keep-alive socket that is being closed.
DRAIN_SECONDS = 2.0


class DrainingApp:
    """ASGI wrapper: once `draining` is set, every response says Connection:
    close, which uvicorn honours by closing the connection after it."""

    def __init__(self, app):
        self.app = app
        self.draining = threading.Event()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.draining.is_set():
            return await self.app(scope, receive, send)

        async def send_closing(message):
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        return await self.app(scope, receive, send_closing)


def _draining_server(uv_config, app: DrainingApp, drain_seconds: float):
    """A uvicorn Server whose first SIGTERM/SIGINT starts a drain instead of
    an immediate shutdown; a second signal exits at once as usual."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        drain_started: float | None = None

        def handle_exit(self, sig, frame):
            if self.drain_started is None and drain_seconds > 0:
                self.drain_started = time.monotonic()
                app.draining.set()
                return
            super().handle_exit(sig, frame)

        async def on_tick(self, counter: int) -> bool:
            if self.drain_started is not None and not self.should_exit:
                for listener in self.servers:
                    listener.close()  # no new connections; open ones keep being served
                if time.monotonic() - self.drain_started >= drain_seconds:
                    self.should_exit = True
            return await super().on_tick(counter)

    return DrainingServer(uv_config)


def bind_socket(
    host: str, port: int, *, reuse_port: bool = False, flag: str = "--port"
) -> socket.socket:
    """A socket bound to host:port (not listening yet); `flag` is the option
    a busy port's message tells the user to change."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        # Linux lets two processes listen on one port when both set this; the
        # kernel spreads new connections across them. That is how a new
        # deployment takes over a port before the old one stops.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} is in use, choose {flag} (something already listens on "
                f"{host}:{port}; `mlcadence deployments list` shows our own servers)"
            ) from None
        raise InvalidSetting(
            f"cannot listen on {host}:{port}: {exc.strerror}; check --host"
        ) from None
    sock.set_inheritable(True)
    return sock


def settle_heap() -> None:
    """Collect once, then freeze what is alive: the model, the libraries and
    the app (~160k long-lived objects) leave the collector's view, so a full
    collection during traffic no longer walks them. Those walks took 100-170 ms
    and freed nothing: they were the p99 tail. Called once the model is loaded
    and warmed up, before the first request."""
    gc.collect()
    gc.freeze()


def app_from_env():
    """uvicorn factory for `--workers N`: each worker reads its settings from
    the MLCADENCE_SERVING_* variables the parent set (`serve`)."""
    from mlcadence.serving.app import create_app
    from mlcadence.serving.settings import read_settings

    app = create_app(read_settings())
    settle_heap()
    return app


def _uvicorn_config(app, settings: ServingSettings):
    import functools

    import uvicorn

    from mlcadence.serving.http_guard import ConnectionLimits, GuardedHttpToolsProtocol

    limits = ConnectionLimits(
        max_header_bytes=settings.max_header_bytes,
        header_timeout=settings.header_timeout,
        max_connections=settings.max_connections,
    )
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        factory=isinstance(app, str),
        log_level=settings.log_level,
        access_log=settings.access_log,
        timeout_graceful_shutdown=30,
        timeout_keep_alive=settings.keep_alive_timeout,
        # uvicorn's httptools protocol plus header size/time and connection
        # limits; a partial (not a closure) so `--workers` can pickle it.
        http=functools.partial(GuardedHttpToolsProtocol, limits=limits),
        lifespan="on",
        # MLflow's server answers with uvicorn's default header; we skip it.
        server_header=False,
    )


def write_state(path: str | None, **fields) -> None:
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(json.dumps(fields))
    os.replace(tmp, target)  # readers never see half a file


def serve(settings: ServingSettings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # A busy port is found now, not after the model has loaded; the port is
    # bound for real below, once the model is ready.
    bind_socket(settings.host, settings.port, reuse_port=settings.reuse_port).close()
    if settings.workers > 1:
        os.environ.update(settings.as_environment())  # what each worker reads
        app = "mlcadence.serving.server:app_from_env"
    else:
        from mlcadence.serving.app import create_app

        app = create_app(settings)  # loads (and warms up) the model first
        settle_heap()
    sockets = [bind_socket(settings.host, settings.port, reuse_port=settings.reuse_port)]
    admin_port = None
    if settings.admin_port is not None:
        admin = bind_socket("127.0.0.1", settings.admin_port, flag="--admin-port")
        sockets.append(admin)
        admin_port = admin.getsockname()[1]
    port = sockets[0].getsockname()[1]
    write_state(
        settings.state_file,
        pid=os.getpid(),
        port=port,
        admin_port=admin_port,
        model_uri=settings.model_uri,
    )
    log.info(
        "serving %s on http://%s:%d (workers=%d)",
        settings.model_uri,
        settings.host,
        port,
        settings.workers,
    )
    if settings.workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(_uvicorn_config(app, settings), sockets=sockets).run()
    else:
        app = DrainingApp(app)
        server = _draining_server(_uvicorn_config(app, settings), app, DRAIN_SECONDS)
        server.run(sockets=sockets)
        if not server.started:
            sys.exit(3)


# Options of `python -m mlcadence.serving.server`: each is a ServingSettings
# field, and its help is that field's description.
SERVER_OPTIONS = (
    "host",
    "port",
    "workers",
    "batch_max_size",
    "batch_max_wait_ms",
    "timeout",
    "max_body_bytes",
    "max_rows",
    "max_decoded_bytes",
    "max_header_bytes",
    "header_timeout",
    "keep_alive_timeout",
    "max_connections",
    "reload_interval",
    "access_log",
    "log_level",
    "reuse_port",
    "admin_port",
    "state_file",
)


# A field's type -> how argparse reads it (bools are flags).
ARG_TYPES = {int: int, int | None: int, float: float, str: str, str | None: str}


def parse_args(argv: list[str] | None = None) -> ServingSettings:
    from mlcadence.serving.settings import option_name, read_settings

    fields = ServingSettings.model_fields
    p = argparse.ArgumentParser(prog="python -m mlcadence.serving.server", description=__doc__)
    p.add_argument("--model-uri", "-m", required=True, help=fields["model_uri"].description)
    for name in SERVER_OPTIONS:
        field = fields[name]
        if field.annotation is bool:
            p.add_argument(
                option_name(name), action="store_true", default=None, help=field.description
            )
        else:
            p.add_argument(
                option_name(name), type=ARG_TYPES[field.annotation], help=field.description
            )
    return read_settings(**vars(p.parse_args(argv)))


def main(argv: list[str] | None = None) -> None:
    from mlcadence.errors import MlcadenceError

    try:
        serve(parse_args(argv))
    except MlcadenceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
