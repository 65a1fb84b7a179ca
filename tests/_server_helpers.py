"""Helpers shared by the service tests: an app with the test doubles, SSE parsing."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

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
async def client(cfg: ServerConfig, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process, inside the app's lifespan."""
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
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
    return [p for p in folder.rglob(".*") if p.is_file()]
