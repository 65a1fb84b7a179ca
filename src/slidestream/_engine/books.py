"""A run's bookkeeping: the ``slidestream.json`` manifest and the finished :class:`DeckResult`.

The manifest says how the latest run stands: ``running``, then ``complete``, ``failed``
(with the ``error``) or ``cancelled``. While the latest run has not completed, the complete
deck an earlier run left in the folder is still there and still described, under
``previous`` (its request and deck), so a failed or cancelled run never loses the record
of a good deck.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio

from .._cache import RunCache
from .._constants import MANIFEST_NAME
from .._files import atomic_write_text
from .._models import DeckResult, SlideResult, StageSpan
from .context import RunContext
from .schedules import Finished, RunMode

__all__ = [
    "cache_notes",
    "deck_files",
    "deck_result",
    "previous_deck",
    "stage_timings",
    "write_manifest",
]


def previous_deck(project_dir: Path) -> dict[str, Any] | None:
    """The complete deck an earlier run left in ``project_dir`` (request and deck), if any."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((project_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("status") == "complete":
            return {"request": data.get("request"), "deck": data.get("deck")}
        previous = data.get("previous") if isinstance(data, dict) else None
        return previous if isinstance(previous, dict) else None
    return None


def cache_notes(cache: RunCache) -> dict[str, Any]:
    """What the run took from the cache and what went wrong with it, for the manifest."""
    reused: dict[str, int] = {}
    for reuse in cache.reused:
        reused[reuse.kind.value] = reused.get(reuse.kind.value, 0) + 1
    return {
        "folder": str(cache.store.root),
        "reused": reused,
        "saved_s": round(sum(reuse.saved_s for reuse in cache.reused), 3),
        "written": cache.written,
        "busy_s": round(cache.busy_s, 3),
        "problems": list(cache.problems),
    }


async def write_manifest(ctx: RunContext, status: str, **extra: Any) -> None:
    """Write the run's status, request and ``extra`` to the project's manifest, atomically."""
    data = {"status": status, "request": ctx.request.to_dict(), **extra}
    if ctx.cache is not None and status != "running":
        data["cache"] = cache_notes(ctx.cache)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    await anyio.to_thread.run_sync(atomic_write_text, ctx.project_dir / MANIFEST_NAME, text)


def deck_files(deck: DeckResult) -> list[Path]:
    """Every file of ``deck``: the deck files, and each slide's clip and images."""
    files = list(deck.files.values())
    for slide in deck.slides:
        files += [slide.audio_path] if slide.audio_path is not None else []
        files += [image.path for image in slide.images if image.path is not None]
    return files


def stage_timings(
    spans: Sequence[StageSpan], slides: Sequence[SlideResult], total_s: float
) -> dict[str, float]:
    """Wall-clock seconds per stage (first start to last end), ``first_slide`` and ``total``."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for span in spans:
        starts[span.stage] = min(starts.get(span.stage, span.start_s), span.start_s)
        ends[span.stage] = max(ends.get(span.stage, span.end_s), span.end_s)
    timings = {stage: ends[stage] - starts[stage] for stage in starts}
    if slides:
        timings["first_slide"] = min(slide.ready_s for slide in slides)
    timings["total"] = total_s
    return timings


def deck_result(ctx: RunContext, finished: Finished, mode: RunMode) -> DeckResult:
    """The finished deck: slides, files, timings and every stage span of the run.

    With a cache, each slide's timings and the deck's say what came from it, including
    what the deck files reused after the slide was complete (frames, segments...).
    """
    files = finished.files
    spans = list(ctx.clock.spans)
    slides = finished.slides
    timings = stage_timings(spans, slides, ctx.now())
    if ctx.cache is not None:
        cache = ctx.cache
        slides = [
            replace(slide, timings={**slide.timings, **cache.reused_by(slide.index)})
            for slide in slides
        ]
        timings.update(cache.reused_by(None))
    return DeckResult(
        request=ctx.request,
        title=finished.outline.title,
        slides=slides,
        project_dir=ctx.project_dir,
        pptx_path=files.pptx_path,
        audio_path=files.audio_path,
        video_path=files.video_path,
        subtitles_path=files.subtitles_path,
        files=dict(files.files),
        timings=timings,
        spans=spans,
        mode=mode,
        limits=ctx.limit_figures(),
        cache_problems=list(ctx.cache.problems) if ctx.cache is not None else [],
    )
