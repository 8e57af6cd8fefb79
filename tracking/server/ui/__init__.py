"""The web UI: static files (HTML, small JS modules, one CSS file; no build step,
nothing from a CDN) served at `/` by the tracking server. The pages read
through the server's own JSON API, as any other client does."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")


async def _index(_request: Request) -> Response:
    # Every page is the one index: the JS module reads the query string.
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def ui_routes() -> list[Route | Mount]:
    """The index at `/` and the assets under `/static/`. They hold no data,
    so they need no token; the data they fetch goes through the API's auth."""
    return [
        Route("/", _index, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="ui-static"),
    ]
