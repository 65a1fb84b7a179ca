"""Shared test setup: the anyio backend, a guard that refuses real network access, and an
empty cache folder of its own for every test."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import edge_tts
import pytest

from tests.servers.edge_server import EdgeServerState, client_urls, serve_edge

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "127.0.0.1", "::1", ""}


def _is_local(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str) or host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a real service: only loopback and Unix sockets are allowed."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        if isinstance(address, tuple) and not _is_local(address[0]):
            raise OSError(f"tests may not reach the network (tried {address!r})")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(host):
            raise socket.gaierror(f"tests may not resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def _private_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each test gets an empty cache of its own, never the user's real one."""
    monkeypatch.setenv("SLIDESTREAM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _pages_painted(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages are painted by Pillow unless a test is marked ``libreoffice``: starting LibreOffice
    costs seconds per deck, so only the tests about it (and one end-to-end run) pay for it."""
    if request.node.get_closest_marker("libreoffice") is None:
        monkeypatch.setenv("SLIDESTREAM_PAGE_RENDERER", "pillow")


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run under asyncio unless they parametrize ``anyio_backend`` themselves."""
    return "asyncio"


@pytest.fixture
def edge_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[EdgeServerState]:
    """A local Edge TTS server, with the real edge-tts client pointed at it."""
    with serve_edge() as (base_url, state):
        wss_url, voice_list_url = client_urls(base_url)
        monkeypatch.setattr(edge_tts.communicate, "WSS_URL", wss_url)
        monkeypatch.setattr(edge_tts.voices, "VOICE_LIST", voice_list_url)
        yield state
