"""How a provider tells its limit that the service throttled, without knowing about limits.

The pipeline takes a slot before every provider call and makes it the current slot of that
task (a context variable), so a provider's retry loop only calls two functions:

- :func:`report_throttled` when the service answers 429 or 503, sends ``Retry-After``, or
  otherwise says "too many": the limit of the service behind the current slot backs off;
- :func:`sleep_without_slot` instead of ``anyio.sleep`` for the wait before a retry: the slot
  is given back meanwhile (other slides may use the service) and taken again before the retry.

A provider that hands calls to members (a fallback chain) holds no slot of its own: it wraps
each member call in :func:`member_slot`, which takes a slot under the member's own service.

Outside a slot (a provider used on its own) all three are harmless: the report goes nowhere,
the sleep is a plain sleep and a member's call takes no slot. This module imports nothing
else of slidestream, so providers can import it freely.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Protocol

import anyio

__all__ = ["member_slot", "report_throttled", "sleep_without_slot"]


class _CurrentSlot(Protocol):
    def report_throttled(self, retry_after_s: float | None) -> None: ...

    async def sleep_released(self, delay_s: float) -> None: ...


current_slot: ContextVar[_CurrentSlot | None] = ContextVar("slidestream_slot", default=None)

MemberSlots = Callable[[object], AbstractAsyncContextManager[object]]
"""Opens the slot for one call to a member, given the member."""

member_slots: ContextVar[MemberSlots | None] = ContextVar("slidestream_members", default=None)


def member_slot(member: object) -> AbstractAsyncContextManager[object]:
    """A slot under ``member``'s own service, for one call a chain makes to it.

    Use it around each call a provider that hands calls on (a fallback chain) makes to a
    member: ``async with member_slot(member): await member.synthesize(...)``. Inside a
    pipeline, the call waits for a place under the member's limit (and, for local work, a
    share of the CPU budget), lower slides first, and is that limit's current slot; outside
    one it is a plain block.
    """
    opener = member_slots.get()
    return contextlib.nullcontext() if opener is None else opener(member)


def report_throttled(retry_after_s: float | None = None) -> bool:
    """Tell the limit of the current call's service that the service throttled this call.

    Call it from a retry loop on each throttling answer (HTTP 429 or 503, a ``Retry-After``,
    Edge TTS refusing for rate): the service's limit backs off for every pipeline that shares
    it, and grows back after sustained success. Returns whether a limit heard it (false
    outside a pipeline's slot).

    Args:
        retry_after_s: how long the service asked us to wait, if it said.
    """
    slot = current_slot.get()
    if slot is None:
        return False
    slot.report_throttled(retry_after_s)
    return True


async def sleep_without_slot(delay_s: float) -> None:
    """Wait ``delay_s`` seconds before a retry with the current slot given back.

    Use it in place of ``anyio.sleep`` between attempts: while this call waits, another
    slide's call may use the service; the slot is taken again (first in line by slide index)
    before it returns. Outside a slot it is ``anyio.sleep``.
    """
    slot = current_slot.get()
    if slot is None:
        await anyio.sleep(delay_s)
    else:
        await slot.sleep_released(delay_s)
