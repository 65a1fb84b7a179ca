"""Where a batch's decks are made, and how a finished deck takes its place.

A deck is made in a staging folder and moved into ``output_dir/<project>`` only once it is
complete, so a deck folder is never half-written: an attempt cut short (a lost worker, a
cancelled batch) leaves its staging folder behind, and the batch removes its staging area
when it ends. Staging lives inside the output folder (``.slidestream-batch/<batch id>/``),
so the final move is a rename on one file system.

A deck made where the output folder is not visible (a worker on another machine without a
shared volume) travels back to the client as a tar archive, and is unpacked into staging
before the same move.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import Any

from .._constants import MANIFEST_NAME
from .._exceptions import InvalidInputError
from .._files import atomic_write_text
from .._models import DeckResult, ImageAsset

__all__ = [
    "STAGING_DIR",
    "install",
    "pack",
    "probe_path",
    "relocate",
    "remove_staging",
    "staging_root",
    "unpack",
    "without_image_bytes",
    "write_probe",
]

STAGING_DIR = ".slidestream-batch"
_PROBE = "probe"


def staging_root(output_dir: Path, batch_id: str) -> Path:
    """The batch's staging area inside ``output_dir``."""
    return output_dir / STAGING_DIR / batch_id


def attempt_dir(output_dir: Path, batch_id: str, project: str) -> Path:
    """A fresh staging folder for one attempt at ``project`` (the pipeline's output folder)."""
    return staging_root(output_dir, batch_id) / f"{project}.{uuid.uuid4().hex[:8]}"


def probe_path(output_dir: Path, batch_id: str) -> Path:
    """The file whose content tells a worker it sees the client's output folder."""
    return staging_root(output_dir, batch_id) / _PROBE


def write_probe(output_dir: Path, batch_id: str) -> None:
    """Write the probe file (blocking)."""
    atomic_write_text(probe_path(output_dir, batch_id), batch_id)


def sees_output(output_dir: Path, batch_id: str) -> bool:
    """True when this machine sees the client's output folder (the probe is there)."""
    try:
        return probe_path(output_dir, batch_id).read_text(encoding="utf-8") == batch_id
    except (OSError, ValueError):
        return False


def remove_staging(output_dir: Path, batch_id: str) -> None:
    """Remove the batch's staging area, and the staging folder itself when it is empty."""
    shutil.rmtree(staging_root(output_dir, batch_id), ignore_errors=True)
    with contextlib.suppress(OSError):  # another batch is using it, or it was never made
        (output_dir / STAGING_DIR).rmdir()


def install(built: Path, final: Path, trash: Path) -> None:
    """Move the finished deck folder ``built`` to ``final``, replacing an older deck there.

    The older deck is renamed into ``trash`` first and removed after the new one is in
    place, so ``final`` always holds a complete deck.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(built, final)
        return
    except OSError:
        if not final.exists():
            raise
    trash.mkdir(parents=True, exist_ok=True)
    old = trash / f"{final.name}.{uuid.uuid4().hex[:8]}.old"
    os.rename(final, old)
    os.rename(built, final)
    shutil.rmtree(old, ignore_errors=True)


def _moved(value: Any, old: Path, new: Path) -> Any:
    if isinstance(value, Path):
        return new / value.relative_to(old) if value.is_relative_to(old) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _moved(getattr(value, f.name), old, new)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, list):
        return [_moved(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _moved(item, old, new) for key, item in value.items()}
    return value


def relocate(deck: DeckResult, old: Path, new: Path) -> DeckResult:
    """``deck`` with every path under ``old`` moved under ``new``."""
    moved: DeckResult = _moved(deck, old, new)
    return moved


def _moved_text(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str) and (value == old or value.startswith(old + os.sep)):
        return new + value[len(old) :]
    if isinstance(value, list):
        return [_moved_text(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _moved_text(item, old, new) for key, item in value.items()}
    return value


def relocate_manifest(folder: Path, old: Path, new: Path) -> None:
    """Rewrite the paths in ``folder``'s manifest from ``old`` to ``new`` (blocking)."""
    manifest = folder / MANIFEST_NAME
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    moved = _moved_text(data, str(old), str(new))
    atomic_write_text(manifest, json.dumps(moved, indent=2, ensure_ascii=False))


def without_image_bytes(deck: DeckResult) -> DeckResult:
    """``deck`` with its images' bytes dropped (their saved ``path`` stays)."""
    slides = [
        dataclasses.replace(
            slide,
            images=[
                dataclasses.replace(image, data=b"") if isinstance(image, ImageAsset) else image
                for image in slide.images
            ],
        )
        for slide in deck.slides
    ]
    return dataclasses.replace(deck, slides=slides)


def pack(folder: Path) -> bytes:
    """``folder``'s files as an uncompressed tar archive (deck media is compressed already)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        archive.add(folder, arcname=".")
    return out.getvalue()


def unpack(data: bytes, folder: Path) -> None:
    """Unpack a :func:`pack` archive into the new folder ``folder``.

    Raises:
        InvalidInputError: the archive holds a link, a device or a path leaving ``folder``.
    """
    folder.mkdir(parents=True)
    root = folder.resolve()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as archive:
        members = archive.getmembers()
        for member in members:
            target = (root / member.name).resolve()
            if not (member.isfile() or member.isdir()) or not target.is_relative_to(root):
                raise InvalidInputError(f"A deck archive holds an unsafe entry: {member.name!r}")
        for member in members:
            target = root / member.name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            source = archive.extractfile(member)
            assert source is not None
            target.parent.mkdir(parents=True, exist_ok=True)
            with source, open(target, "wb") as handle:
                shutil.copyfileobj(source, handle)
            os.chmod(target, member.mode & 0o777 or 0o644)
