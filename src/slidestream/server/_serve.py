"""Running the service with uvicorn, refusing to expose it without a token by mistake."""

from __future__ import annotations

import logging
import re

import uvicorn

from .._exceptions import ConfigurationError
from ._app import create_app
from ._config import DEFAULT_HOST, DEFAULT_PORT, ServerConfig, is_loopback

__all__ = ["RedactTokenFilter", "redact_token", "serve"]

_TOKEN_QUERY = re.compile(r"([?&]token=)[^&#\s]*", re.IGNORECASE)


def redact_token(target: str) -> str:
    """``target`` (a path with its query) with the value of any ``token`` parameter hidden."""
    return _TOKEN_QUERY.sub(r"\1***", target)


class RedactTokenFilter(logging.Filter):
    """Hides the token of ``/?token=...`` (how a person opens the page) in uvicorn's access log.

    uvicorn logs each request as ``(client, method, path with query, HTTP version, status)``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's path; every record is kept."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_token(args[2]), *args[3:])
        return True


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
    uvicorn_config = uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=max(1, round(config.grace_s)),
        proxy_headers=False,
    )
    access_log = logging.getLogger("uvicorn.access")  # set up by uvicorn.Config just above
    if not any(isinstance(known, RedactTokenFilter) for known in access_log.filters):
        access_log.addFilter(RedactTokenFilter())
    uvicorn.Server(uvicorn_config).run()
