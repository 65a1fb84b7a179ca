"""Typed request and response bodies of the HTTP API (pydantic models, as FastAPI expects).

Request fields are checked here (lengths, patterns, ranges), so a route only sees values that
are safe to hand to a pipeline: a voice or provider name can never be a path, a project is a
plain folder name.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DeckCreate",
    "ErrorView",
    "FileLink",
    "Health",
    "JobCreated",
    "JobLinks",
    "JobList",
    "JobRecord",
    "JobStatus",
    "JobView",
    "SeedRequest",
    "SeedResponse",
    "ServerInfo",
    "SlideProgress",
]

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}(,[a-z0-9][a-z0-9_-]{0,39}){0,3}$"
"""A provider name, or a comma-separated fallback chain of at most four."""
VOICE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_:-]{0,79}$"
"""A voice name (``en-US-AriaNeural``, ``alloy``, ``joe``): never a path."""
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$"
PROJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$"
JOB_ID_PATTERN = r"^[0-9a-f]{16}$"
MAX_SERVICE_SLIDES = 60


class JobStatus(str, Enum):
    """Where a deck job is: ``queued`` -> ``running`` -> ``complete``/``failed``/``cancelled``."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True for the states a job never leaves."""
        return self in (JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED)


class _Choices(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slides: int | None = Field(None, ge=1, le=MAX_SERVICE_SLIDES)
    voice: str | None = Field(None, pattern=VOICE_PATTERN)
    script: str | None = Field(None, pattern=NAME_PATTERN, description="script provider")
    images: str | None = Field(None, pattern=NAME_PATTERN, description="image provider")
    tts: str | None = Field(None, pattern=NAME_PATTERN, description="TTS provider")


class DeckCreate(_Choices):
    """``POST /v1/decks``: a topic or a Markdown outline, and how to make the deck."""

    topic: str | None = Field(None, min_length=1, max_length=500)
    markdown: str | None = Field(None, description="a Markdown outline (instead of a topic)")
    project: str | None = Field(None, pattern=PROJECT_PATTERN)
    language: str = Field("en", pattern=LANGUAGE_PATTERN)
    video: bool = True
    audience: str | None = Field(None, max_length=200)
    tone: str | None = Field(None, max_length=200)
    mode: Literal["streaming", "sequential"] = "streaming"

    @model_validator(mode="after")
    def _topic_or_markdown(self) -> DeckCreate:
        if (self.topic is None) == (self.markdown is None):
            raise ValueError("give either a topic or a Markdown outline, not both or neither")
        return self


class SeedRequest(_Choices):
    """``POST /generate_presentation``: the seed service's body, plus optional choices."""

    project: str | None = Field(None, pattern=PROJECT_PATTERN)
    topic: str = Field(min_length=1, max_length=500)
    lang: str = Field("en", pattern=LANGUAGE_PATTERN)
    generate_video: bool = False


class ErrorView(BaseModel):
    """Why a job failed or was cancelled."""

    reason: Literal["error", "cancelled", "shutdown", "interrupted"]
    type: str
    message: str
    stage: str | None = None
    provider: str | None = None


class SlideProgress(BaseModel):
    """One slide of a job: how far it got, and its errors."""

    index: int
    title: str | None = None
    status: Literal["pending", "scripted", "complete"] = "pending"
    images: bool = False
    audio: bool = False
    duration_s: float | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    audio_file: str | None = None
    frame_file: str | None = None


class JobRecord(BaseModel):
    """A job as kept on disk (``slidestream-job.json`` in its project folder)."""

    id: str
    project: str
    status: JobStatus = JobStatus.QUEUED
    mode: Literal["streaming", "sequential"] = "streaming"
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    topic: str
    title: str | None = None
    language: str = "en"
    slides_wanted: int | None = None
    voice: str | None = None
    video: bool = True
    outline: bool = False
    """True when the deck came from an uploaded Markdown outline (kept as ``outline.md``)."""
    audience: str | None = None
    tone: str | None = None
    providers: dict[str, str | None] = Field(default_factory=dict)
    resumed: int = 0
    """How many times a restart found the deck unfinished and made it again."""
    slides: list[SlideProgress] = Field(default_factory=list)
    error: ErrorView | None = None
    files: dict[str, str] = Field(default_factory=dict)
    """Deck files by kind, as names relative to the project folder."""
    live: str | None = None
    """The live playlist's name in the project folder, once it exists."""
    timings: dict[str, float] = Field(default_factory=dict)
    report: str | None = None


class FileLink(BaseModel):
    """A file of a deck and where to download it."""

    name: str
    url: str


class JobLinks(BaseModel):
    """Where to follow a job."""

    self: str
    events: str
    live: str
    page: str


class JobView(JobRecord):
    """``GET /v1/decks/{id}``: the job record with progress and links."""

    slides_total: int | None = None
    slides_done: int = 0
    progress: float = 0.0
    downloads: dict[str, FileLink] = Field(default_factory=dict)
    links: JobLinks


class JobCreated(BaseModel):
    """``202`` answer of ``POST /v1/decks``."""

    id: str
    status: JobStatus
    project: str
    links: JobLinks


class JobList(BaseModel):
    """``GET /v1/decks``: every job the server knows, newest first."""

    decks: list[JobView]


class SeedResponse(BaseModel):
    """The seed endpoints' answer once the deck is complete."""

    id: str
    project: str
    status: JobStatus
    title: str | None
    files: dict[str, str]
    """File kind -> URL."""
    slides: list[dict[str, Any]]
    timings: dict[str, float]
    report: str | None


class Health(BaseModel):
    """``GET /healthz``."""

    status: Literal["ok", "shutting-down"]
    version: str
    decks_running: int
    decks_queued: int


class LimitView(BaseModel):
    """One service's limit, for every deck together (:class:`slidestream.LimitStatistics`)."""

    service: str
    """``edge-tts@wss://speech.platform.bing.com``, ``openai-tts@http://host/v1``, ``cpu``..."""
    local: bool
    """Local work (Piper, drawn images; ``cpu`` is the CPU budget itself)."""
    in_flight: int
    waiting: int
    limit: int
    """Calls allowed at once now: below ``cap`` while backing off after throttling."""
    cap: int
    peak_in_flight: int
    calls: int
    throttled: int
    lowest_limit: int
    adaptive: bool


class LimitsView(BaseModel):
    """``GET /v1/limits``: every service limit the server's decks share."""

    limits: list[LimitView]


class ServerInfo(BaseModel):
    """``GET /v1/info``: what a request may choose on this server."""

    version: str
    providers: dict[str, list[str]]
    defaults: dict[str, str]
    live_preview: bool
    max_outline_bytes: int
    max_slides: int = MAX_SERVICE_SLIDES
