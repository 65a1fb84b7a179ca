"""Running the service with uvicorn, refusing to expose it without a token by mistake."""

from __future__ import annotations

import uvicorn

from .._exceptions import ConfigurationError
from ._app import create_app
from ._config import DEFAULT_HOST, DEFAULT_PORT, ServerConfig, is_loopback

__all__ = ["serve"]


def serve(
    config: ServerConfig,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    insecure_no_token: bool = False,
    log_level: str = "info",
) -> None:
    """Serve ``config`` on ``host:port`` until SIGINT or SIGTERM.

    On a signal uvicorn stops accepting connections and ends open event streams; the jobs
    then get ``config.grace_s`` seconds to finish before they are cancelled and marked failed.

    Raises:
        ConfigurationError: ``host`` is reachable from other machines and no token is set
            (pass ``insecure_no_token=True`` to allow it anyway).
    """
    if not is_loopback(host) and config.token is None and not insecure_no_token:
        raise ConfigurationError(
            f"Refusing to serve on {host} without a token: anyone who can reach it could make "
            "decks on this machine. Set --token (or SLIDESTREAM_TOKEN), bind to 127.0.0.1, or "
            "pass --insecure-no-token if the network is trusted."
        )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=host,
            port=port,
            log_level=log_level,
            timeout_graceful_shutdown=max(1, round(config.grace_s)),
            proxy_headers=False,
        )
    )
    server.run()
