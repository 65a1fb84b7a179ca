"""The HTTP routes: thin, each turning a request into a call on the job store and back.

Errors are not handled here: they propagate to the one mapping in :mod:`._errors`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from .. import __version__
from .._exceptions import InvalidInputError
from ._errors import (
    JobConflictError,
    JobNotFoundError,
    NotFoundError,
    ShuttingDownError,
    validation_message,
)
from ._jobs import DeckSpec, Job, JobStore
from ._live import PLAYLIST, playlist_text
from ._schemas import (
    DeckCreate,
    Health,
    JobCreated,
    JobList,
    JobStatus,
    JobView,
    LimitsView,
    LimitView,
    SeedRequest,
    SeedResponse,
    ServerInfo,
)
from ._security import safe_file
from ._views import job_links, job_view, seed_response

__all__ = ["api", "page", "seed"]

api = APIRouter(prefix="/v1", tags=["decks"])
seed = APIRouter(tags=["seed"])
page = APIRouter(tags=["page"])

_MEDIA_TYPES = {".ts": "video/mp2t", ".m3u8": "application/vnd.apple.mpegurl", ".vtt": "text/vtt"}
_STATIC = {
    "app.js": "text/javascript",
    "style.css": "text/css",
    "hls.light.min.js": "text/javascript",
}


def get_store(request: Request) -> JobStore:
    """The server's job store (made by the app's lifespan)."""
    store: JobStore = request.app.state.store
    return store


Store = Annotated[JobStore, Depends(get_store)]


# -- jobs ----------------------------------------------------------------------------------------


async def _deck_create(request: Request) -> DeckCreate:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            async with request.form(max_files=1, max_fields=20) as form:
                fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str) and v}
                upload = form.get("outline")
                if upload is not None and not isinstance(upload, str):
                    data = await upload.read()
                    try:
                        fields["markdown"] = data.decode("utf-8-sig")
                    except UnicodeDecodeError:
                        raise InvalidInputError("The outline is not UTF-8 text.") from None
            return DeckCreate.model_validate(fields)
        return DeckCreate.model_validate_json(await request.body())
    except ValidationError as error:
        raise InvalidInputError(validation_message(error.errors())) from None


_CREATE_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": DeckCreate.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"outline": {"type": "string", "format": "binary"}},
                }
            },
        },
        "required": True,
    }
}


@api.post("/decks", status_code=202, response_model=JobCreated, openapi_extra=_CREATE_BODY)
async def create_deck(request: Request, store: Store) -> JSONResponse:
    """Start a deck from a topic or a Markdown outline (JSON, or a multipart upload)."""
    body = await _deck_create(request)
    job = await store.submit(DeckSpec(**body.model_dump()))
    created = JobCreated(
        id=job.id, status=job.status, project=job.record.project, links=job_links(job.id)
    )
    return JSONResponse(
        created.model_dump(mode="json"), status_code=202, headers={"Location": created.links.self}
    )


@api.get("/decks")
async def list_decks(store: Store) -> JobList:
    """Every deck job, newest first."""
    return JobList(decks=[job_view(job) for job in store.all()])


@api.get("/decks/{job_id}")
async def get_deck(job_id: str, store: Store) -> JobView:
    """One job: status, per-slide progress, errors, files."""
    return job_view(store.get(job_id))


@api.delete("/decks/{job_id}")
async def cancel_deck(job_id: str, store: Store) -> JobView:
    """Cancel a job: its work stops; files already complete stay, nothing is half-written."""
    job = await store.cancel(job_id)
    with anyio.move_on_after(10):
        await job.done.wait()
    return job_view(job)


@api.get("/decks/{job_id}/events", response_class=EventSourceResponse)
async def deck_events(
    job_id: str,
    request: Request,
    store: Store,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, description="replay events after this id")] = None,
) -> EventSourceResponse:
    """Server-sent events: one per event, ``id`` numbered; ``Last-Event-ID`` resumes."""
    job = store.get(job_id)
    start = after if after is not None else _event_id(last_event_id)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for item in job.log.follow(start):
            yield ServerSentEvent(data=json.dumps(item.data), event=item.kind, id=str(item.seq))

    return EventSourceResponse(
        events(), ping=store.config.keepalive_s, headers={"Cache-Control": "no-cache"}
    )


def _event_id(value: str | None) -> int:
    if value is None or not value.strip().isdigit():
        return 0
    return int(value.strip())


@api.get("/decks/{job_id}/live.m3u8", response_class=Response)
async def live_playlist(job_id: str, store: Store) -> Response:
    """The live narrated preview: an HLS EVENT playlist, one segment per slide."""
    job = store.get(job_id)
    path = job.folder / PLAYLIST
    if await anyio.Path(path).is_file():
        text = await anyio.Path(path).read_text(encoding="utf-8")
    elif (
        not job.status.finished
        and store.config.live_preview
        and job.record.providers.get("tts") not in (None, "none")
    ):
        text = playlist_text([], ended=False)  # the deck has not started its preview yet
    else:
        raise JobNotFoundError("This deck has no live preview (it has no narration).")
    return Response(
        text,
        media_type="application/vnd.apple.mpegurl",
        headers={"Cache-Control": "no-cache"},
    )


@api.api_route(
    "/decks/{job_id}/files/{name:path}", methods=["GET", "HEAD"], response_class=FileResponse
)
async def deck_file(job_id: str, name: str, store: Store) -> FileResponse:
    """A file of the deck (audio and video answer HTTP Range and ``HEAD`` requests)."""
    job = store.get(job_id)
    path = await anyio.to_thread.run_sync(safe_file, job.folder, name)
    media_type = _MEDIA_TYPES.get(path.suffix.lower())
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})


@api.get("/info")
async def server_info(store: Store) -> ServerInfo:
    """What a request may choose on this server."""
    config = store.config
    allowed = {str(kind): list(names) for kind, names in config.allowed.items()}
    return ServerInfo(
        version=__version__,
        providers=allowed,
        defaults={kind: names[0] for kind, names in allowed.items()},
        live_preview=config.live_preview,
        max_outline_bytes=config.max_outline_bytes,
    )


@api.get("/limits")
async def service_limits(store: Store) -> LimitsView:
    """Every service limit the decks share: in flight, waiting, current limit, throttles."""
    figures = store.pool.limits.statistics()
    return LimitsView(
        limits=[
            LimitView(
                service=str(key),
                local=key.local,
                in_flight=stats.in_flight,
                waiting=stats.waiting,
                limit=stats.limit,
                cap=stats.cap,
                peak_in_flight=stats.peak_in_flight,
                calls=stats.calls,
                throttled=stats.throttled,
                lowest_limit=stats.lowest_limit,
                adaptive=stats.adaptive,
            )
            for key, stats in sorted(figures.items())
        ]
    )


# -- the seed service's endpoints --------------------------------------------------------------


async def _made(store: JobStore, body: SeedRequest, mode: str) -> SeedResponse:
    spec = DeckSpec(
        topic=body.topic,
        project=body.project,
        language=body.lang,
        slides=body.slides,
        voice=body.voice,
        video=body.generate_video,
        mode=mode,
        script=body.script,
        images=body.images,
        tts=body.tts,
    )
    job = await store.submit(spec)
    await job.done.wait()
    return _finished(store, job)


def _finished(store: JobStore, job: Job) -> SeedResponse:
    if job.status is JobStatus.COMPLETE:
        return seed_response(job)
    if job.error is not None:
        raise job.error
    error = job.record.error
    message = error.message if error else "The deck was not finished."
    if error is not None and error.reason == "shutdown":
        raise ShuttingDownError(message, retry_after_s=store.config.retry_after_s)
    raise JobConflictError(message)


@seed.post("/generate_presentation")
async def generate_presentation(body: SeedRequest, store: Store) -> SeedResponse:
    """The seed's endpoint (streaming schedule): answers when the deck is complete."""
    return await _made(store, body, "streaming")


@seed.post("/generate_presentation_legacy")
async def generate_presentation_legacy(body: SeedRequest, store: Store) -> SeedResponse:
    """The seed's endpoint with the sequential pipeline."""
    return await _made(store, body, "sequential")


# -- the page and health ------------------------------------------------------------------------


def _static(name: str) -> str:
    return resources.files("slidestream.server").joinpath("static", name).read_text("utf-8")


@page.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    """The web page."""
    return HTMLResponse(_static("index.html"), headers={"Cache-Control": "no-cache"})


@page.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    """The page's scripts and styles."""
    media_type = _STATIC.get(name)
    if media_type is None:
        raise NotFoundError(f"No static file {name[:40]!r}.")
    return Response(_static(name), media_type=media_type)


@page.get("/healthz")
async def healthz(store: Store) -> Health:
    """Liveness and load: always answers, with or without a token."""
    counts = store.counts()
    return Health(
        status="ok" if store.accepting else "shutting-down",
        version=__version__,
        decks_running=counts[JobStatus.RUNNING],
        decks_queued=counts[JobStatus.QUEUED],
    )
