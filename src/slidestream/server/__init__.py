"""The slidestream web service: ``pip install "slidestream[server]"``, then ``slidestream serve``.

It offers the seed service's endpoints (``POST /generate_presentation`` and
``/generate_presentation_legacy``), deck jobs with live events (``/v1/decks``), a live narrated
HLS preview and a web page. See ``docs/service.md``::

    from slidestream.server import ServerConfig, create_app

    app = create_app(ServerConfig(output_dir="outputs", token="a-long-secret"))
"""

from ._app import create_app as create_app
from ._config import ServerConfig as ServerConfig
from ._errors import ServiceError as ServiceError
from ._events import DeckFailed as DeckFailed
from ._events import PreviewReady as PreviewReady
from ._schemas import JobStatus as JobStatus
from ._serve import serve as serve

__all__ = [
    "DeckFailed",
    "JobStatus",
    "PreviewReady",
    "ServerConfig",
    "ServiceError",
    "create_app",
    "serve",
]
