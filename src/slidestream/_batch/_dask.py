"""Run a batch's decks on a Dask cluster: an existing scheduler, or a local cluster.

Each deck is one Dask task (:func:`._dask_worker.deck_task`) submitted with ``retries``: a
deck whose worker dies is rescheduled by the scheduler on another worker (up to its
``distributed.scheduler.allowed-failures``), and an unexpected error is retried; a deck that
fails for its own reasons comes back as a result with its error and is not retried.

The Dask client runs its own event loop in its own thread, so the batch works the same under
asyncio and trio: blocking client calls go to worker threads, and what Dask calls back
(finished tasks, the decks' progress events) comes into the batch's loop through a
:class:`anyio.from_thread.BlockingPortal`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal

from .._exceptions import ConfigurationError, InvalidInputError
from .._limits import DaskLeases, Limits
from ._dask_worker import ClusterRun, close_batch, deck_task, event_topic
from ._deck import DeckJob, DeckOutcome
from ._folders import attempt_dir, install, staging_root, unpack, write_probe
from ._models import BatchEvent, BatchEventKind, FilesMode

__all__ = ["ClusterTarget", "run_on_cluster"]

logger = logging.getLogger("slidestream.batch")

DASK_HINT = "pip install 'slidestream[dask]'"
_CONNECT_TIMEOUT_S = 30.0
_PROBE_TIMEOUT_S = 5.0
"""How long the first look at a scheduler's port may take before Dask's own connection."""
_DEFAULT_SCHEDULER_PORT = 8786


def _distributed() -> ModuleType:
    try:
        import distributed
    except ImportError:
        raise ConfigurationError(
            "Making decks on a Dask cluster (--workers, --cluster) needs the dask extra: "
            f"{DASK_HINT}. Without it, a batch runs in this process."
        ) from None
    return distributed


@dataclass(frozen=True, kw_only=True)
class ClusterTarget:
    """Where and how a batch runs on Dask."""

    address: str | None = None
    """An existing scheduler (``tcp://host:8786``); ``None`` starts a local cluster."""
    workers: int = 2
    """Worker processes of the local cluster."""
    decks_per_worker: int = 4
    """Decks a local-cluster worker makes at once (its thread count)."""
    retries: int = 1
    files: FilesMode = FilesMode.AUTO


@dataclass
class _Connection:
    client: Any
    cluster: Any = None

    def close(self) -> None:
        for closable in (self.client, self.cluster):
            if closable is not None:
                try:
                    closable.close()
                except Exception:  # closing is best effort; the batch's outcome stands
                    logger.warning("closing %r failed", closable, exc_info=True)


def _version() -> str:
    from .. import __version__

    return __version__


def _unreachable(address: str, reason: object) -> ConfigurationError:
    return ConfigurationError(
        f"Cannot reach the Dask scheduler at {address} ({reason}). Start one with "
        "`dask scheduler` and workers with `dask worker ADDRESS`, or use --workers N."
    )


def _check_reachable(address: str) -> None:
    """Refuse at once a scheduler address that is malformed or whose port nobody answers on.

    Dask's client would retry such an address for its whole connect timeout, and a client
    it could not make blocks the interpreter's exit; other transports than TCP and TLS are
    left to Dask.

    Raises:
        ConfigurationError: the address is malformed, its host unknown or its port closed.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme not in ("tcp", "tls"):
            return
        host, port = parse_host_port(location, default_port=_DEFAULT_SCHEDULER_PORT)
    except ValueError:
        raise _unreachable(address, "not an address such as tcp://host:8786") from None
    try:
        socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S).close()
    except OSError as error:
        raise _unreachable(address, error.strerror or error) from None


def _connect(target: ClusterTarget) -> _Connection:
    distributed = _distributed()
    if target.address is None:
        try:
            cluster = distributed.LocalCluster(
                n_workers=target.workers,
                threads_per_worker=target.decks_per_worker,
                processes=True,
                # Any free port on loopback: never 8787 taken from another cluster, never public.
                dashboard_address="127.0.0.1:0",
                # Workers we start report through the batch, not on the terminal: a worker
                # stopped with the batch (Ctrl-C, SIGTERM) would print heartbeat tracebacks.
                silence_logs=logging.CRITICAL,
            )
        except Exception as error:
            raise ConfigurationError(
                f"A local Dask cluster of {target.workers} workers could not start: {error}"
            ) from error
        return _Connection(distributed.Client(cluster, set_as_default=False), cluster)
    _check_reachable(target.address)
    try:
        client = distributed.Client(
            target.address, timeout=_CONNECT_TIMEOUT_S, set_as_default=False
        )
    except (OSError, TimeoutError, ValueError) as error:
        raise _unreachable(target.address, error) from None
    connection = _Connection(client)
    try:
        client.wait_for_workers(1, timeout=_CONNECT_TIMEOUT_S)
        versions = client.run(_version)
    except TimeoutError:
        connection.close()
        raise ConfigurationError(
            f"The Dask scheduler at {target.address} has no workers: start some with "
            f"`dask worker {target.address}`."
        ) from None
    except Exception as error:
        connection.close()
        raise ConfigurationError(
            f"A worker of {target.address} cannot run slidestream ({error}): install "
            f"slidestream[dask] {_version()} on every worker ({DASK_HINT})."
        ) from None
    wrong = {address: v for address, v in versions.items() if v != _version()}
    if wrong:
        connection.close()
        raise ConfigurationError(
            f"Workers run another slidestream version than this client's {_version()}: "
            + ", ".join(f"{address} has {v}" for address, v in sorted(wrong.items()))
        )
    return connection


def _describe(error: BaseException, distributed: ModuleType) -> str:
    if isinstance(error, distributed.KilledWorker):
        return (
            "the deck's worker was lost too many times (distributed.scheduler.allowed-failures); "
            "check the workers' memory and logs"
        )
    return f"{type(error).__name__}: {error}"


def _outcome(future: Any, distributed: ModuleType) -> DeckOutcome:
    """What a finished task gives: its outcome, or why it has none."""
    try:
        if future.status == "finished":
            outcome: DeckOutcome = future.result()
            return outcome
        if future.status == "cancelled":
            return DeckOutcome(error="cancelled")
        return DeckOutcome(error=_describe(future.exception(), distributed))
    except Exception as error:  # e.g. a result this client cannot unpickle
        return DeckOutcome(
            error=f"the deck's result could not be read: {_describe(error, distributed)}"
        )
    finally:
        future.release()


def _receive_archive(outcome: DeckOutcome, job: DeckJob) -> DeckOutcome:
    """Unpack a deck sent back by its worker and move it into the output folder."""
    assert outcome.archive is not None
    staging = attempt_dir(job.output_dir, job.batch_id, job.project) / job.project
    try:
        unpack(outcome.archive, staging)
    except InvalidInputError as error:
        return replace(outcome, deck=None, error=str(error), archive=None)
    install(staging, job.final_dir, staging_root(job.output_dir, job.batch_id))
    return replace(outcome, archive=None)


@dataclass
class _Attempts:
    """Which attempts of each deck the client has seen start."""

    seen: dict[int, list[str]] = field(default_factory=dict)

    def number(self, item: int, attempt: str) -> int:
        attempts = self.seen.setdefault(item, [])
        if attempt not in attempts:
            attempts.append(attempt)
        return attempts.index(attempt) + 1

    def count(self, item: int) -> int:
        return max(1, len(self.seen.get(item, ())))


async def run_on_cluster(
    jobs: list[DeckJob],
    *,
    target: ClusterTarget,
    limits: Limits,
    emit: Callable[[BatchEvent], None],
    finish: Callable[[DeckJob, DeckOutcome, int], None],
) -> None:
    """Make every deck of ``jobs`` on a Dask cluster, service limits held cluster-wide.

    ``limits`` gives the configuration; the decks run under the same limits held through
    Dask semaphores named after the batch (:class:`~slidestream.DaskLeases`).

    ``emit`` gets the decks' start and progress events, ``finish`` each deck's outcome (with
    how many attempts it took). Everything submitted is cancelled if the batch is.
    """
    if not jobs:
        return
    distributed = _distributed()
    batch_id = jobs[0].batch_id
    output_dir = jobs[0].output_dir
    leases = DaskLeases(name=batch_id)
    run = ClusterRun(batch_id=batch_id, limits=limits.with_leases(leases), files=target.files)
    if target.files is not FilesMode.SEND:
        await anyio.to_thread.run_sync(write_probe, output_dir, batch_id)
    connection = await anyio.to_thread.run_sync(_connect, target)
    by_item = {job.item: job for job in jobs}
    attempts = _Attempts()
    semaphores: set[str] = set()
    futures: dict[int, Any] = {}
    topic = event_topic(batch_id)
    done_send, done_receive = anyio.create_memory_object_stream[int](math.inf)
    try:
        async with BlockingPortal() as portal:

            def forward(message: dict[str, Any]) -> None:
                item = message.get("item")
                if item not in by_item:
                    return
                kind = (
                    BatchEventKind.STARTED
                    if message.get("kind") == "started"
                    else BatchEventKind.PROGRESS
                )
                emit(
                    BatchEvent(
                        kind=kind,
                        item=item,
                        project=by_item[item].project,
                        attempt=attempts.number(item, str(message.get("attempt"))),
                        worker=message.get("worker"),
                        data=message.get("data") or {},
                    )
                )

            def on_event(event: tuple[float, Any]) -> None:
                if isinstance(event[1], dict):
                    _call_soon(portal, forward, event[1])

            def submit() -> None:
                connection.client.subscribe_topic(topic, on_event)
                for job in jobs:
                    future = connection.client.submit(
                        deck_task,
                        job,
                        run,
                        key=f"slidestream-deck-{batch_id}-{job.item}",
                        pure=False,
                        retries=target.retries,
                    )
                    futures[job.item] = future
                    future.add_done_callback(
                        lambda _, item=job.item: _call_soon(portal, done_send.send_nowait, item)
                    )

            try:
                await anyio.to_thread.run_sync(submit)
                remaining = set(futures)
                async with done_receive:
                    async for item in done_receive:
                        job = by_item[item]
                        outcome = await anyio.to_thread.run_sync(
                            _outcome, futures[item], distributed
                        )
                        semaphores.update(outcome.semaphores)
                        if outcome.archive is not None:
                            outcome = await anyio.to_thread.run_sync(_receive_archive, outcome, job)
                        if outcome.attempt:
                            attempts.number(item, outcome.attempt)
                        finish(job, outcome, attempts.count(item))
                        remaining.discard(item)
                        if not remaining:
                            break
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(
                        _wind_down, connection, batch_id, list(futures.values())
                    )
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(leases.close_semaphores, connection.client, semaphores)
            await anyio.to_thread.run_sync(connection.close)
            done_send.close()


def _call_soon(portal: BlockingPortal, function: Callable[..., object], *args: Any) -> None:
    """Run ``function`` in the batch's event loop, unless the batch is already over."""
    # Once the portal has closed the batch is over, and this news is late.
    with contextlib.suppress(RuntimeError):
        portal.start_task_soon(function, *args)


def _wind_down(connection: _Connection, batch_id: str, futures: list[Any]) -> None:
    """Cancel what still runs, stop listening, and end the batch on every worker."""
    client = connection.client
    pending = [future for future in futures if not future.done()]
    if pending:
        client.cancel(pending)
    with contextlib.suppress(ValueError):  # never subscribed
        client.unsubscribe_topic(event_topic(batch_id))
    try:
        client.run(close_batch, batch_id)
    except Exception:  # a worker lost meanwhile has nothing left to close
        logger.info("ending batch %s on the workers failed", batch_id, exc_info=True)
