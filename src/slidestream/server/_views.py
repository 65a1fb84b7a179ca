"""Job records as API answers: progress, links and download URLs."""

from __future__ import annotations

from urllib.parse import quote

from ._jobs import Job
from ._schemas import FileLink, JobLinks, JobView, SeedResponse

__all__ = ["file_url", "job_links", "job_view", "seed_response"]


def job_links(job_id: str) -> JobLinks:
    """Where to follow job ``job_id``."""
    base = f"/v1/decks/{job_id}"
    return JobLinks(
        self=base, events=f"{base}/events", live=f"{base}/live.m3u8", page=f"/?deck={job_id}"
    )


def file_url(job_id: str, name: str) -> str:
    """The URL of file ``name`` of a job."""
    return f"/v1/decks/{job_id}/files/{quote(name)}"


def job_view(job: Job) -> JobView:
    """The answer of ``GET /v1/decks/{id}``."""
    record = job.record
    total = len(record.slides) or None
    done = sum(1 for slide in record.slides if slide.status == "complete")
    downloads = {
        kind: FileLink(name=name, url=file_url(job.id, name)) for kind, name in record.files.items()
    }
    progress = 1.0 if record.status.value == "complete" else (done / total if total else 0.0)
    return JobView(
        **record.model_dump(),
        slides_total=total,
        slides_done=done,
        progress=round(progress, 4),
        downloads=downloads,
        links=job_links(job.id),
    )


def seed_response(job: Job) -> SeedResponse:
    """The seed endpoints' answer for a finished deck."""
    record = job.record
    slides = [slide.to_dict(include_data=False) for slide in job.deck.slides] if job.deck else []
    return SeedResponse(
        id=job.id,
        project=record.project,
        status=record.status,
        title=record.title,
        files={kind: file_url(job.id, name) for kind, name in record.files.items()},
        slides=slides,
        timings=record.timings,
        report=record.report,
    )
