"""The Prefect server (API, UI and services) as `prefect server start` runs it
in the foreground, plus an optional idle timeout:

    python -m mlcadence.cli.prefect_server --port 4200 [--idle-timeout S --unless-exists FILE]

With `--idle-timeout` the server stops itself once no request or connection
(a flow's event websocket counts) has been open for S seconds, unless FILE
exists: a server that a flow command started for reuse must not outlive its
use, but `mlcadence up` may claim it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path


class ActivityClock:
    """ASGI middleware that knows how long the server has been idle."""

    def __init__(self, app):
        self.app = app
        self.open = 0
        self.last = time.monotonic()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        self.open += 1
        try:
            return await self.app(scope, receive, send)
        finally:
            self.open -= 1
            self.last = time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self.open else time.monotonic() - self.last


async def _stop_when_idle(server, clock: ActivityClock, timeout: float, unless: Path | None):
    while not server.should_exit:
        await asyncio.sleep(min(30.0, timeout / 4))
        claimed = unless is not None and unless.exists()
        if not claimed and clock.idle_for() >= timeout:
            server.should_exit = True


async def _serve(host: str, port: int, idle_timeout: float, unless: Path | None) -> None:
    import uvicorn
    from prefect.server.api.server import create_app
    from prefect.settings import PREFECT_SERVER_API_KEEPALIVE_TIMEOUT

    clock = ActivityClock(create_app(final=True))
    config = uvicorn.Config(
        clock,
        host=host,
        port=port,
        log_level="warning",
        timeout_keep_alive=PREFECT_SERVER_API_KEEPALIVE_TIMEOUT.value(),
    )
    server = uvicorn.Server(config)
    watcher = None
    if idle_timeout > 0:
        watcher = asyncio.create_task(_stop_when_idle(server, clock, idle_timeout, unless))
    await server.serve()
    if watcher is not None:
        watcher.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4200)
    parser.add_argument("--idle-timeout", type=float, default=0.0, help="seconds; 0 = never")
    parser.add_argument("--unless-exists", type=Path, help="never idle out while this file exists")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port, args.idle_timeout, args.unless_exists))


if __name__ == "__main__":
    main()
