"""A run's bookkeeping: the ``slidestream.json`` manifest and the finished :class:`DeckResult`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anyio

from .._constants import MANIFEST_NAME
from .._files import atomic_write_text
from .._models import DeckResult, SlideResult, StageSpan
from .context import RunContext
from .schedules import Finished, RunMode

__all__ = ["deck_result", "stage_timings", "write_manifest"]


async def write_manifest(ctx: RunContext, status: str, **extra: Any) -> None:
    """Write the run's status, request and ``extra`` to the project's manifest, atomically."""
    data = {"status": status, "request": ctx.request.to_dict(), **extra}
    text = json.dumps(data, indent=2, ensure_ascii=False)
    await anyio.to_thread.run_sync(atomic_write_text, ctx.project_dir / MANIFEST_NAME, text)


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
    """The finished deck: slides, files, timings and every stage span of the run."""
    files = finished.files
    spans = list(ctx.clock.spans)
    return DeckResult(
        request=ctx.request,
        title=finished.outline.title,
        slides=finished.slides,
        project_dir=ctx.project_dir,
        pptx_path=files.pptx_path,
        audio_path=files.audio_path,
        video_path=files.video_path,
        subtitles_path=files.subtitles_path,
        files=dict(files.files),
        timings=stage_timings(spans, finished.slides, ctx.now()),
        spans=spans,
        mode=mode,
        limits=ctx.limit_figures(),
    )
