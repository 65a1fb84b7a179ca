"""Formatting of :meth:`DeckResult.report`."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from ._types import CacheKind, Stage

if TYPE_CHECKING:
    from ._models import DeckResult

STAGE_ORDER: tuple[str, ...] = tuple(Stage)


def format_report(deck: DeckResult) -> str:
    """Render the per-stage work (sum over slides) and wall-clock span of a finished deck."""
    work: dict[str, float] = defaultdict(float)
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for span in deck.spans:
        work[span.stage] += span.duration_s
        first[span.stage] = min(first.get(span.stage, span.start_s), span.start_s)
        last[span.stage] = max(last.get(span.stage, span.end_s), span.end_s)
    stages = [s for s in STAGE_ORDER if s in work] + sorted(set(work) - set(STAGE_ORDER))
    failed = sum(1 for slide in deck.slides if slide.errors)
    lines = [
        f"Performance report: {deck.title} ({len(deck.slides)} slides, {deck.mode}"
        + (f", {failed} with errors)" if failed else ")"),
        f"{'stage':<12}{'work (sum)':>12}{'wall (span)':>13}",
    ]
    for stage in stages:
        lines.append(f"{stage:<12}{work[stage]:>10.2f} s{last[stage] - first[stage]:>11.2f} s")
    total = deck.timings.get("total")
    if total is not None:
        busy = sum(work.values())
        lines.append(f"{'total':<12}{busy:>10.2f} s{total:>11.2f} s")
        if total > 0:
            lines.append(f"overlap: {busy / total:.2f}x the work done per second of wall time")
    first_slide = deck.timings.get("first_slide")
    if first_slide is not None:
        lines.append(f"first slide ready after {first_slide:.2f} s")
    reused = cache_line(deck)
    if reused:
        lines.append(reused)
    trouble = cache_problems_line(deck)
    if trouble:
        lines.append(trouble)
    if deck.limits:
        lines.extend(_limit_lines(deck))
    return "\n".join(lines)


def _limit_lines(deck: DeckResult) -> list[str]:
    """One row per limit the run used: its cap, where it ended, how low it went, its peak."""
    width = max(12, *(len(str(figures.service)) + 2 for figures in deck.limits))
    lines = [
        f"{'limit':<{width}}{'cap':>5}{'now':>5}{'lowest':>8}{'peak':>6}{'calls':>7}"
        f"{'throttled':>11}"
    ]
    for figures in deck.limits:
        lines.append(
            f"{figures.service!s:<{width}}{figures.cap:>5}{figures.limit:>5}"
            f"{figures.lowest_limit:>8}{figures.peak_in_flight:>6}{figures.calls:>7}"
            f"{figures.throttled:>11}"
        )
    return lines


def cache_problems_line(deck: DeckResult) -> str:
    """``"warning: the cache was not fully used: could not store ... (and 3 more, in
    slidestream.json)"``, or ``""`` when the cache gave no trouble."""
    problems = deck.cache_problems
    if not problems:
        return ""
    more = f" (and {len(problems) - 1} more, in slidestream.json)" if len(problems) > 1 else ""
    return f"warning: the cache was not fully used: {problems[0]}{more}"


def cache_line(deck: DeckResult) -> str:
    """``"from the cache: slide scripts 7/8, ... (41.3 s of work not redone)"``, or ``""``."""
    parts = []
    saved = 0.0
    count = len(deck.slides)
    for kind in CacheKind:
        key = kind.timing_key
        if key in deck.timings:
            parts.append(kind.label)
            saved += deck.timings[key]
        slides = [slide.timings[key] for slide in deck.slides if key in slide.timings]
        if slides:
            parts.append(f"{kind.label} {len(slides)}/{count}")
            saved += sum(slides)
    if not parts:
        return ""
    return f"from the cache: {', '.join(parts)} ({saved:.1f} s of work not redone)"
