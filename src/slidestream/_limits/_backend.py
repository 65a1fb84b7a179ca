"""What a :class:`~slidestream.Limits` needs of a backend that holds limits beyond this process.

A backend (such as :class:`~slidestream.DaskLeases`) gives each online service one
:class:`SharedGate` per event loop; a slot takes the service's local gate first, then a place at
the shared gate, and gives them back in the reverse order.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._keys import ServiceKey

__all__ = ["LeaseBackend", "SharedGate"]


class SharedGate(Protocol):
    """One service's limit held with other processes: at most its cap places in all."""

    async def acquire(self) -> None:
        """Wait for a place (cancellable: a place granted meanwhile is given back)."""
        ...

    async def release(self) -> None:
        """Give a place back; completes even when cancelled."""
        ...

    def close(self) -> None:
        """Stop what the gate keeps running (no place is held any more)."""
        ...


@runtime_checkable
class LeaseBackend(Protocol):
    """Makes the gates that hold services' limits across processes; travels by pickling."""

    def gate(self, key: ServiceKey, cap: int) -> SharedGate:
        """The gate of ``key`` with ``cap`` places in all, for the calling event loop."""
        ...
