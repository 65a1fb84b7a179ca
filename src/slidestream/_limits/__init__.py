"""Limits on work in flight: per service, shared across runs, adaptive, and a CPU budget.

- ``_keys``: :class:`ServiceKey`, what a limit protects, and how a provider declares it;
- ``_gate``: a resizable gate that lets waiting tasks in by slide index;
- ``_adaptive``: how an online limit follows throttling;
- ``_signal``: the two calls a provider's retry loop makes (:func:`report_throttled`,
  :func:`sleep_without_slot`), and the slot a chain takes for a member's call
  (:func:`member_slot`); it imports nothing else of slidestream;
- ``_shared``: :class:`Limits`, the shareable object, and its :class:`Slot`;
- ``_data``: :class:`LimitChanged` and :class:`LimitStatistics`;
- ``_stage``: :class:`ConcurrencyLimits`, the pipelines' ``max_concurrent_*`` values;
- ``_backend``: what a backend that holds limits beyond one process provides;
- ``_dask``: that backend on Dask, :class:`DaskLeases` (cluster-wide semaphores, leases
  handed on within a worker).
"""

from ._backend import LeaseBackend as LeaseBackend
from ._dask import DaskLeases as DaskLeases
from ._data import LimitChanged as LimitChanged
from ._data import LimitStatistics as LimitStatistics
from ._keys import ServiceKey as ServiceKey
from ._keys import SupportsLimitKey as SupportsLimitKey
from ._keys import SupportsMemberLimits as SupportsMemberLimits
from ._keys import member_keys as member_keys
from ._shared import Limits as Limits
from ._shared import Slot as Slot
from ._shared import default_cpu_budget as default_cpu_budget
from ._signal import member_slot as member_slot
from ._signal import report_throttled as report_throttled
from ._signal import sleep_without_slot as sleep_without_slot
from ._stage import ConcurrencyLimits as ConcurrencyLimits

__all__ = [
    "ConcurrencyLimits",
    "DaskLeases",
    "LeaseBackend",
    "LimitChanged",
    "LimitStatistics",
    "Limits",
    "ServiceKey",
    "Slot",
    "SupportsLimitKey",
    "SupportsMemberLimits",
    "default_cpu_budget",
    "member_keys",
    "member_slot",
    "report_throttled",
    "sleep_without_slot",
]
