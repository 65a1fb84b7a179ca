"""An HTTP response body delivered in the chunks a test chooses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


class ChunkedBody(httpx.AsyncByteStream):
    """A response body that arrives as ``chunks``, one read each (split anywhere)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
