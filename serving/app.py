"""The scoring server's HTTP app: `create_app(settings)` -> FastAPI.

Loads the model before any traffic, wires the holder, batcher, reloader,
scoring service and metrics into `app.state`, and mounts the routes of
`serving.routes` (which only read that state). /invocations' OpenAPI entry is
generated from the model signature.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mlcadence.serving import invocations, routes
from mlcadence.serving.batching import MicroBatcher
from mlcadence.serving.errors import ModelLoadError, ModelNotFound, ServingError
from mlcadence.serving.metrics import RequestMetricsMiddleware, ServerMetrics
from mlcadence.serving.model import LoadedModel, is_moving_uri
from mlcadence.serving.model import load as load_model
from mlcadence.serving.model import resolve_version as registry_version
from mlcadence.serving.protocol import BodyLimits
from mlcadence.serving.reload import ModelHolder, Reloader
from mlcadence.serving.scoring import ScoringService, warm_up
from mlcadence.settings import ServingSettings

log = logging.getLogger("mlcadence.serving")


def _server_version() -> str:
    try:
        from importlib.metadata import version

        return version("mlcadence")
    except Exception:  # noqa: BLE001 - running from a source tree
        return "0.0.0"


# ------------------------------------------------------------------ the app
def initial_model(uri: str, loader: Callable[[str], LoadedModel]) -> LoadedModel | None:
    """Load and warm up `uri` before any traffic. A URI the registry can move
    (alias, latest, stage) whose version exists but cannot be loaded yet (its
    files unreadable for now) gives None: the server starts and answers 503
    until the reloader loads it. A model, version or alias the registry does
    not have, and any failure of a pinned URI, raise: that is a typo or a
    missing registration, which waiting would not fix."""
    try:
        model = loader(uri)
        warm_up(model)
        return model
    except Exception as exc:
        if is_moving_uri(uri) and not isinstance(exc, ModelNotFound):
            log.warning("starting without a model, will retry: %s", getattr(exc, "message", exc))
            return None
        if isinstance(exc, ServingError):
            raise
        raise ModelLoadError(
            f"Model {uri!r} loaded but failed its warm-up prediction: {type(exc).__name__}: {exc}"
        ) from exc


def create_app(
    settings: ServingSettings,
    *,
    model: LoadedModel | None = None,
    loader: Callable[[str], LoadedModel] | None = None,
    resolve_version: Callable[[str], str | None] = registry_version,
) -> FastAPI:
    """Build the app for `settings.model_uri` (or the given `model`) and load
    the model now. A URI that the registry can move is polled every
    `settings.reload_interval` seconds and hot-swapped."""
    uri = settings.model_uri or (model.uri if model else None)
    if not uri:
        raise ModelLoadError(
            "No model to serve: pass --model-uri (e.g. models:/name@champion) or set "
            "MLCADENCE_SERVING_MODEL_URI."
        )
    loader = loader or functools.partial(
        load_model, fast_path=settings.fast_path, allow_unverified=settings.allow_unverified
    )
    metrics = ServerMetrics()
    holder = ModelHolder(uri)
    holder.on_swap.append(lambda m: metrics.set_model(m.name, m.version, m.uri))
    if model is None:
        model = initial_model(uri, loader)
    if model is not None:
        holder.swap(model)
    batcher = MicroBatcher(
        lambda m, data, params: m.predict(data, params),
        max_size=settings.batch_max_size,
        max_wait_s=settings.batch_max_wait_ms / 1000.0,
        on_batch=metrics.batch_size.observe,
    )
    reloader = Reloader(
        holder,
        interval=settings.reload_interval if is_moving_uri(uri) else 0,
        resolve_version=resolve_version,
        load=loader,
        warm_up=warm_up,
        on_result=metrics.note_reload,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        reloader.start()
        try:
            yield
        finally:
            reloader.stop()
            batcher.close()

    app = invocations.ScoringApp(
        title="mlcadence scoring server",
        version=_server_version(),
        description=f"Scores `{uri}` in MLflow's scoring protocol (POST /invocations).",
        lifespan=lifespan,
        # Ours instead, in routes: they honour the token.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.token = (settings.token or "").encode()
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.batcher = batcher
    app.state.reloader = reloader
    app.state.scoring = ScoringService(
        holder, batcher, BodyLimits(settings.max_rows, settings.max_decoded_bytes)
    )
    holder.on_swap.append(lambda m: setattr(app, "openapi_schema", None))

    app.add_route(
        invocations.PATH, invocations.Endpoint(), methods=["POST"], include_in_schema=False
    )
    for path, route, summary in routes.GET_ROUTES:
        app.get(path, summary=summary)(route)
    for path, route in routes.UNDOCUMENTED_GET_ROUTES:
        app.add_route(path, route, methods=["GET"], include_in_schema=False)
    app.openapi = functools.partial(routes.openapi, app)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
