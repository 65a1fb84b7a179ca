"""A local stand-in for Microsoft Edge's read-aloud text-to-speech service.

It speaks the exchange the ``edge-tts`` client speaks with the real service:

- ``GET /voices/list?trustedclienttoken=...&Sec-MS-GEC=...``: the voice list (JSON).
- ``GET /edge/v1?TrustedClientToken=...&ConnectionId=...&Sec-MS-GEC=...`` upgraded to a
  websocket. The client sends a ``Path:speech.config`` text message (JSON asking for word
  boundaries and ``audio-24khz-48kbitrate-mono-mp3``) and a ``Path:ssml`` text message. The
  server answers with ``Path:turn.start`` and ``Path:response``, then per word a
  ``Path:audio.metadata`` message carrying a ``WordBoundary`` (offset and duration in 100 ns
  ticks) and binary ``Path:audio`` frames (2-byte big-endian header length, the headers, then
  MP3 bytes), an empty closing audio frame and ``Path:turn.end``.

The audio is real MP3 (MPEG-2 layer III, 24 kHz, 48 kbit/s CBR: 144-byte frames of 24 ms),
encoded once with the ffmpeg that imageio-ffmpeg ships.

It fails the ways the real service is reported to fail: handshakes refused with 429 or 503
when a client sends too many requests at once (``Retry-After`` optional), 403 (the real
service's answer to a stale ``Sec-MS-GEC`` token or clock skew; edge-tts retries it once after
adjusting its clock from the ``Date`` header), a turn that ends with no audio at all, the
connection dropped mid-audio (TCP) and the websocket closed mid-audio (a close frame before
``turn.end``). A voice the service does not offer (not in its list: withdrawn, or misspelt) gets
no audio: the socket is closed with 1007, which edge-tts reports as "No audio was received".
Word boundaries can be made to misreport (an offset that runs backwards, a duration that
runs past the audio) or give way to one sentence boundary per turn. With a
:class:`~tests.servers.faults.FaultPlan` the fault layer sits in front of both routes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import unescape

import imageio_ffmpeg
from aiohttp import WSMsgType, web

from tests.servers._base import serve_app
from tests.servers.faults import Fault, FaultPlan, fault_middleware

SYNTH_FAULTS = frozenset(Fault)
VOICE_LIST_FAULTS = frozenset(Fault) - {Fault.WS_CLOSE}
FRAME_BYTES = 144
FRAME_TICKS = 240_000  # 576 samples at 24 kHz = 24 ms = 240 000 ticks of 100 ns
LEAD_FRAMES = 3
GAP_FRAMES = 2
SSML_NS = "{http://www.w3.org/2001/10/synthesis}"

VOICES: list[dict[str, Any]] = [
    {
        "Name": f"Microsoft Server Speech Text to Speech Voice ({locale}, {short})",
        "ShortName": f"{locale}-{short}",
        "Gender": gender,
        "Locale": locale,
        "SuggestedCodec": "audio-24khz-48kbitrate-mono-mp3",
        "FriendlyName": f"Microsoft {short} Online (Natural) - {locale}",
        "Status": "GA",
        "VoiceTag": {"ContentCategories": ["General"], "VoicePersonalities": ["Friendly"]},
    }
    for locale, short, gender in [
        ("de-AT", "IngridNeural", "Female"),
        ("de-DE", "KatjaNeural", "Female"),
        ("en-GB", "SoniaNeural", "Female"),
        ("en-US", "AriaNeural", "Female"),
        ("en-US", "GuyNeural", "Male"),
        ("fr-FR", "DeniseNeural", "Female"),
    ]
]

OFFERED_NAMES = frozenset(str(voice["Name"]) for voice in VOICES)


@functools.lru_cache(maxsize=1)
def mp3_frames() -> tuple[bytes, ...]:
    """Ten seconds of a quiet tone as separate 48 kbit/s MP3 frames."""
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        *("-hide_banner", "-loglevel", "error", "-f", "lavfi"),
        *("-i", "sine=frequency=330:duration=10:sample_rate=24000", "-ac", "1"),
        *("-c:a", "libmp3lame", "-b:a", "48k", "-write_xing", "0", "-id3v2_version", "0"),
        *("-f", "mp3", "-"),
    ]
    data = subprocess.run(command, capture_output=True, check=True, timeout=60).stdout
    frames = [data[i : i + FRAME_BYTES] for i in range(0, len(data), FRAME_BYTES)]
    frames = [f for f in frames if len(f) == FRAME_BYTES]
    assert all(f[:2] == b"\xff\xf3" for f in frames), "unexpected MP3 frame layout"
    return tuple(frames)


@dataclass
class EdgeServerState:
    """What the server saw, and how it should misbehave."""

    drop_connections: int = 0
    """Drop this many connections mid-stream (after half the words) before answering fully."""
    close_mid_audio: int = 0
    """Close this many websockets with a close frame after half the words, before turn.end."""
    no_audio_turns: int = 0
    """End this many turns with ``turn.end`` and no audio at all."""
    silent_markers: set[str] = field(default_factory=set)
    """End every turn whose text holds one of these words with no audio at all."""
    handshake_statuses: list[int] = field(default_factory=list)
    """Refuse the next websocket handshakes with these HTTP statuses."""
    retry_after: str = "0"
    """The ``Retry-After`` header of a refused handshake (seconds or an HTTP date)."""
    handshakes: list[float] = field(default_factory=list)
    """``time.monotonic()`` of every websocket handshake, refused or not."""
    word_delay_s: float = 0.0
    """Pause this long before each word, to make a slow stream."""
    voice_list_delay_s: float = 0.0
    """Pause this long before answering a voice-list request, to make a stalled list."""
    backwards_word: int | None = None
    """Report this word of each turn (0-based) at the turn's start: an offset that runs back."""
    overrun_last_word_ticks: int = 0
    """Report the last word of each turn this much longer than its audio, past the turn's end."""
    sentence_boundaries_only: bool = False
    """Answer with one ``SentenceBoundary`` per turn and no ``WordBoundary``, whatever was asked."""
    connections: int = 0
    voice_list_requests: int = 0
    configs: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """``(voice, text)`` of every SSML request."""
    faults: FaultPlan | None = None
    """The fault layer in front of both routes, if any."""


def _split_message(text: str) -> tuple[dict[str, str], str]:
    head, _, body = text.partition("\r\n\r\n")
    headers = dict(line.split(":", 1) for line in head.split("\r\n") if line)
    return headers, body


def _text_message(request_id: str, path: str, body: dict[str, Any]) -> str:
    return (
        f"X-RequestId:{request_id}\r\n"
        "Content-Type:application/json; charset=utf-8\r\n"
        f"Path:{path}\r\n\r\n{json.dumps(body)}"
    )


def _audio_message(request_id: str, audio: bytes) -> bytes:
    content_type = "Content-Type:audio/mpeg\r\n" if audio else ""
    headers = f"X-RequestId:{request_id}\r\n{content_type}Path:audio\r\n".encode()
    return len(headers).to_bytes(2, "big") + headers + audio


def _parse_ssml(ssml: str) -> tuple[str, str]:
    root = ET.fromstring(ssml)
    voice = root.find(f"{SSML_NS}voice")
    prosody = voice.find(f"{SSML_NS}prosody") if voice is not None else None
    if voice is None or prosody is None:
        raise ValueError("SSML without voice/prosody")
    return voice.get("name", ""), prosody.text or ""


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'’-]+", unescape(text))


def make_app(state: EdgeServerState) -> web.Application:
    """The aiohttp application of the local Edge service."""
    frames = mp3_frames()

    async def voices(request: web.Request) -> web.Response:
        if "trustedclienttoken" not in request.query or "Sec-MS-GEC" not in request.query:
            return web.Response(status=403, text="missing token")
        state.voice_list_requests += 1
        await asyncio.sleep(state.voice_list_delay_s)
        return web.json_response(VOICES)

    async def synthesize(request: web.Request) -> web.StreamResponse:
        for key in ("TrustedClientToken", "ConnectionId", "Sec-MS-GEC", "Sec-MS-GEC-Version"):
            if key not in request.query:
                return web.Response(status=403, text=f"missing {key}")
        state.handshakes.append(time.monotonic())
        if state.handshake_statuses:
            status = state.handshake_statuses.pop(0)
            return web.Response(status=status, headers={"Retry-After": state.retry_after})
        state.connections += 1
        fault = request.get("fault")
        drop = state.drop_connections > 0 or fault is Fault.TRUNCATE
        if state.drop_connections > 0:
            state.drop_connections -= 1
        close = state.close_mid_audio > 0 or fault is Fault.WS_CLOSE
        if state.close_mid_audio > 0:
            state.close_mid_audio -= 1
        silent = state.no_audio_turns > 0
        if silent:
            state.no_audio_turns -= 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)

        headers, body = _split_message(await ws.receive_str())
        assert headers["Path"] == "speech.config", headers
        config = json.loads(body)
        state.configs.append(config)
        headers, body = _split_message(await ws.receive_str())
        assert headers["Path"] == "ssml", headers
        voice, text = _parse_ssml(body)
        state.requests.append((voice, unescape(text)))
        request_id = headers["X-RequestId"]
        if voice not in OFFERED_NAMES:  # what the real service does with a voice it lacks
            await ws.close(code=1007, message=f"Unsupported voice {voice}.".encode())
            return ws
        word_boundaries = (
            config["context"]["synthesis"]["audio"]["metadataoptions"]["wordBoundaryEnabled"]
            == "true"
        )

        await ws.send_str(_text_message(request_id, "turn.start", {"context": {"serviceTag": "t"}}))
        await ws.send_str(
            _text_message(
                request_id,
                "response",
                {"context": {"serviceTag": "t"}, "audio": {"type": "inline", "streamId": "s"}},
            )
        )
        silent = silent or any(marker in text for marker in state.silent_markers)
        if silent:  # the service sometimes ends a turn without a byte of audio
            await ws.send_str(_text_message(request_id, "turn.end", {}))
            await ws.receive()
            return ws
        words = _words(text)
        position = 0
        if state.sentence_boundaries_only:
            word_boundaries = False
            spoken = sum(4 + 2 * len(word) + GAP_FRAMES for word in words) - GAP_FRAMES
            sentence = {
                "Type": "SentenceBoundary",
                "Data": {
                    "Offset": LEAD_FRAMES * FRAME_TICKS,
                    "Duration": spoken * FRAME_TICKS,
                    "text": {
                        "Text": unescape(text).strip(),
                        "Length": len(text),
                        "BoundaryType": "SentenceBoundary",
                    },
                },
            }
            await ws.send_str(_text_message(request_id, "audio.metadata", {"Metadata": [sentence]}))
        await ws.send_bytes(_audio_message(request_id, b"".join(frames[:LEAD_FRAMES])))
        position = LEAD_FRAMES
        for number, word in enumerate(words):
            await asyncio.sleep(state.word_delay_s)
            if ws.closed:
                return ws
            count = 4 + 2 * len(word)
            if word_boundaries:
                offset = 0 if number == state.backwards_word else position * FRAME_TICKS
                duration = count * FRAME_TICKS
                if number == len(words) - 1:
                    duration += state.overrun_last_word_ticks
                meta = {
                    "Metadata": [
                        {
                            "Type": "WordBoundary",
                            "Data": {
                                "Offset": offset,
                                "Duration": duration,
                                "text": {
                                    "Text": word,
                                    "Length": len(word),
                                    "BoundaryType": "WordBoundary",
                                },
                            },
                        }
                    ]
                }
                await ws.send_str(_text_message(request_id, "audio.metadata", meta))
            chunk = [frames[(position + i) % len(frames)] for i in range(count + GAP_FRAMES)]
            await ws.send_bytes(_audio_message(request_id, b"".join(chunk)))
            position += count + GAP_FRAMES
            if drop and number == len(words) // 2:
                transport = request.transport
                assert transport is not None
                transport.close()
                return ws
            if close and number == len(words) // 2:
                await ws.close()
                return ws
        await ws.send_bytes(_audio_message(request_id, b""))
        await ws.send_str(_text_message(request_id, "turn.end", {}))
        async for message in ws:  # the client closes the socket after turn.end
            if message.type == WSMsgType.ERROR:
                break
        return ws

    middlewares = []
    if state.faults is not None:
        plan = state.faults

        def error_body(status: int, headers: dict[str, str]) -> web.Response:
            return web.Response(status=status, headers=headers)

        synth = fault_middleware(plan, "edge-tts", SYNTH_FAULTS, error_body)
        listing = fault_middleware(plan, "edge-voices", VOICE_LIST_FAULTS, error_body)

        @web.middleware
        async def by_route(request: web.Request, handler: Any) -> web.StreamResponse:
            inner = synth if request.path == "/edge/v1" else listing
            response: web.StreamResponse = await inner(request, handler)
            return response

        middlewares.append(by_route)
    app = web.Application(middlewares=middlewares)
    app.router.add_get("/voices/list", voices)
    app.router.add_get("/edge/v1", synthesize)
    return app


@contextmanager
def serve_edge(state: EdgeServerState | None = None) -> Iterator[tuple[str, EdgeServerState]]:
    """Run the local Edge service; yields ``(base URL, state)``."""
    state = state or EdgeServerState()
    with serve_app(make_app(state)) as base_url:
        yield base_url, state


def client_urls(base_url: str) -> tuple[str, str]:
    """The websocket and voice-list URLs to give the edge-tts client for ``base_url``."""
    token = uuid.uuid4().hex.upper()
    ws_base = base_url.replace("http://", "ws://", 1)
    return (
        f"{ws_base}/edge/v1?TrustedClientToken={token}",
        f"{base_url}/voices/list?trustedclienttoken={token}",
    )
