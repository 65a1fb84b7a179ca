"""The FastAPI application: the job store in its lifespan, the routes, the error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .. import __version__
from ..render._audio import setup_pydub
from ._config import ServerConfig
from ._errors import install_error_handlers
from ._jobs import JobStore
from ._providers import ProviderPool
from ._routes import api, page, seed
from ._security import BodyLimitMiddleware, BrowserGuardMiddleware, TokenMiddleware

__all__ = ["create_app"]


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The slidestream service as an ASGI app (run it with uvicorn, or ``slidestream serve``).

    The job store lives in the app's lifespan: jobs start in its task group, and leaving the
    lifespan (server shutdown) lets running decks finish for ``config.grace_s`` seconds, then
    cancels the rest.
    """
    config = config or ServerConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Import the renderer's audio stack now, not inside the first deck's event loop turn.
        await anyio.to_thread.run_sync(setup_pydub)
        async with ProviderPool(config) as pool, JobStore(config, pool) as store:
            app.state.store = store
            yield

    app = FastAPI(
        title="slidestream",
        version=__version__,
        summary="Narrated presentations, streamed slide by slide.",
        lifespan=lifespan,
    )
    app.state.config = config
    install_error_handlers(app)
    app.include_router(seed)
    app.include_router(api)
    app.include_router(page)
    app.add_middleware(BodyLimitMiddleware, limit=config.max_request_bytes)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    if config.token is not None:
        app.add_middleware(TokenMiddleware, token=config.token)
    app.add_middleware(
        BrowserGuardMiddleware,
        allowed_origins=config.cors_origins,
        host_check=config.token is None,
    )
    return app
