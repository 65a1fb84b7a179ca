"""Helpers shared by the service tests: an app with the test doubles, SSE parsing."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from slidestream._files import is_temporary

pytest.importorskip("fastapi")
pytest.importorskip("sse_starlette")

from slidestream.server import ServerConfig, create_app

TOKEN = "test-token-0123456789"


def config(tmp_path: Path, **changes: Any) -> ServerConfig:
    """A server config with the test doubles as the only providers."""
    values: dict[str, Any] = {
        "output_dir": tmp_path / "decks",
        "script_providers": ("test-script",),
        "image_providers": ("test-images", "none"),
        "tts_providers": ("test-tts", "none"),
        "keepalive_s": 1.0,
        "grace_s": 1.0,
    }
    values.update(changes)
    return ServerConfig(**values)


@contextlib.asynccontextmanager
async def client(
    cfg: ServerConfig, *, base_url: str = "http://testserver", **headers: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process, inside the app's lifespan.

    The app sees the connection arrive at ``base_url``'s host and port (``127.0.0.1`` for a
    server listening on loopback).
    """
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, headers=headers
        ) as http:
            yield http


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The events of an SSE body: ``id``, ``event`` and parsed ``data`` (comments skipped)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if "event" in fields:
            fields["data"] = json.loads(fields["data"])
            fields["id"] = int(fields["id"])
            events.append(fields)
    return events


def temp_files(folder: Path) -> list[Path]:
    """Half-written files (atomic writes use hidden temporary names) under ``folder``."""
    return [p for p in folder.rglob(".*") if p.is_file() and is_temporary(p.name)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(
    out: Path, *options: str, stdout: int = subprocess.DEVNULL
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``slidestream serve`` on a free port with the test doubles; yields its URL.

    Its standard output (uvicorn's access log) goes to ``stdout``.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "slidestream", "serve", "--port", str(port), "--out", str(out),
        "--script", "test-script", "--images", "test-images,none", "--tts", "test-tts,none",
        "--log-level", "warning", *options,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr else "")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("the server did not start")
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        if process.stdout is not None:
            process.stdout.close()
