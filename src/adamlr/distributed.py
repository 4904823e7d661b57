"""adamlr under ``torch.distributed`` (torchrun, ``srun``): the process group, a communicator, failing together.

A run is distributed when the launcher sets ``WORLD_SIZE > 1`` (torchrun does, and so does
``srun`` with the environment of docs/distributed.md's example). :func:`session` then initialises
the default process group from the environment (``env://``): NCCL for CUDA tensors and
Gloo for CPU tensors when a GPU is present, Gloo alone otherwise, with each rank on
``cuda:LOCAL_RANK``; it tears the group down on the way out. Without a launcher every
:class:`Communicator` operation is the identity and nothing here runs.

Failing together: a rank that raises posts its exit code and one-line message to a
key-value store the run owns (:func:`_own_store`: a ``TCPStore`` rank 0 hosts on a free port,
announced to the other ranks through the process group), leaves the group (so that a rank waiting for it in a
collective gets an error at once rather than at the timeout) and waits a few seconds for
rank 0 to acknowledge. Rank 0, on any failure of its own or of a collective, reads the
posted messages and raises one :class:`~adamlr.errors.DistributedError` naming the rank
that failed first, which the command line prints as its one error line. A rank that hangs
is bounded by the process group's timeout (``$ADAMLR_DIST_TIMEOUT`` seconds, default
1800), after which the waiting ranks fail the same way.

Data-parallel runs rely on an all-reduce returning the same bits on every rank (as Gloo's
and NCCL's do), so that the replicated solver takes the same decisions everywhere; were it
not so, the ranks would part ways and fail at the timeout rather than return different answers.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any

import torch
import torch.distributed as dist

from adamlr.errors import AdamlrError, DistributedError

TIMEOUT_ENV = "ADAMLR_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0
PEER_ERROR_WAIT_S = 2.0  # how long rank 0 looks for another rank's posted error after a failed collective
ACK_WAIT_S = 10.0  # how long a failed rank waits for rank 0 to take its message before it exits


def launched_world_size() -> int:
    """``$WORLD_SIZE`` as the launcher set it (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def process_rank() -> int:
    """This process's global rank from ``$RANK`` (0 without a launcher): only rank 0 prints."""
    return int(os.environ.get("RANK", "0") or 0)


def local_rank() -> int:
    """``$LOCAL_RANK``: this process's index on its node, which picks its GPU."""
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def timeout_seconds() -> float:
    """The process group's timeout: ``$ADAMLR_DIST_TIMEOUT`` seconds, default 1800.

    Every collective waits at most this long for the slowest rank, so it must exceed the
    longest stretch of work between two collectives: one Hessian-vector product over a
    rank's shard, one whole weight sample with ``--parallel samples``, and rank 0's pass over
    the whole data to compute the cache key (``--no-cache`` skips it).
    """
    raw = os.environ.get(TIMEOUT_ENV)
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise DistributedError(f"expected ${TIMEOUT_ENV} to be a number of seconds, found {raw!r}", 2) from None
    if not value > 0:
        raise DistributedError(f"expected ${TIMEOUT_ENV} > 0 seconds, found {raw!r}", 2)
    return value


class Communicator:
    """Sums, broadcasts and gathers across the ranks of a run; in one process each is the identity.

    Attributes:
        rank: this process's rank (0 in one process).
        size: the number of processes (1 in one process).
    """

    def __init__(self, rank: int = 0, size: int = 1) -> None:
        self.rank = rank
        self.size = size

    @classmethod
    def current(cls) -> Communicator:
        """The default process group's communicator, or the one-process one when there is none."""
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that prints, draws progress and writes the cache and journal."""
        return self.rank == 0

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over all ranks, in place, and return it (every rank gets the same sum)."""
        if self.size > 1:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """Rank ``src``'s ``obj`` on every rank (pickled; for small objects)."""
        if self.size == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank (pickled; for small objects)."""
        if self.size == 1:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def device_name(self, requested: str) -> str:
        """The device this rank works on: ``auto``/``cuda`` become ``cuda:LOCAL_RANK`` when distributed."""
        if self.size > 1 and requested in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{local_rank()}"
        return requested


class _Stopped(Exception):
    """SIGTERM on rank 0 (the launcher stops the other ranks when one has exited)."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stopped("stopped by SIGTERM from the launcher")


def _key(name: str) -> str:
    return f"adamlr/{name}"  # the store is the run's own, made afresh by each (re)started run


def _post(store: dist.Store, rank: int, exc: BaseException) -> None:
    """Post this rank's failure for rank 0 to report (best effort: the store may be gone)."""
    code = exc.exit_code if isinstance(exc, AdamlrError) else 1
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    try:
        store.set(_key(f"error/{rank}"), json.dumps({"code": code, "message": text, "time": time.time()}))
    except Exception:  # noqa: BLE001 - the store went away with rank 0; nothing left to tell
        pass


def _peer_error(store: dist.Store, size: int, wait: float) -> DistributedError | None:
    """The earliest error another rank posted, waiting up to ``wait`` seconds for one to appear."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for rank in range(1, size):
            try:
                if store.check([_key(f"error/{rank}")]):
                    found.append((rank, json.loads(store.get(_key(f"error/{rank}")))))
            except Exception:  # noqa: BLE001 - an unreachable store holds no message
                return None
        if found:
            rank, posted = min(found, key=lambda item: item[1]["time"])
            return DistributedError(f"rank {rank} of {size}: {posted['message']}", int(posted["code"]))
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _main_failure(exc: BaseException, store: dist.Store, size: int) -> BaseException:
    """What rank 0 reports: its own error if it has one, else the error another rank posted."""
    if isinstance(exc, (AdamlrError, KeyboardInterrupt)):
        return exc
    peer = _peer_error(store, size, PEER_ERROR_WAIT_S)
    if peer is not None:
        return peer
    if isinstance(exc, (RuntimeError, _Stopped)):  # dist.DistError is a RuntimeError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DistributedError(f"another process of the distributed run failed, was stopped or did not answer "
                                f"within the process-group timeout ({timeout_seconds():g} s, ${TIMEOUT_ENV}); "
                                f"rank 0 saw: {first}")
    return exc


def _leave(store: dist.Store, rank: int, exc: BaseException) -> DistributedError:
    """A rank other than 0 failed: post, leave the group so rank 0 stops waiting, wait for its acknowledgement."""
    _post(store, rank, exc)
    try:
        dist.destroy_process_group()
    except Exception:  # noqa: BLE001 - leaving is best effort
        pass
    try:
        store.wait([_key("ack")], timedelta(seconds=ACK_WAIT_S))
    except Exception:  # noqa: BLE001 - rank 0 is gone or silent: exit anyway
        pass
    code = exc.exit_code if isinstance(exc, AdamlrError) else 1
    return DistributedError(f"rank {rank}: {exc}", code)


def _init() -> None:
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend=backend, init_method="env://",
                            timeout=timedelta(seconds=timeout_seconds()))


def _own_store(comm: Communicator) -> dist.Store:
    """A key-value store of this run's, for its failure messages: rank 0 hosts it, the others connect.

    Rank 0 lets the system pick a free port and broadcasts it over the process group, so no
    port beyond the launcher's needs to be agreed on; the others reach it at ``$MASTER_ADDR``.

    Raises:
        DistributedError: the port could not be shared (another rank is gone already).
    """
    timeout = timedelta(seconds=timeout_seconds())
    host = os.environ.get("MASTER_ADDR", "127.0.0.1")
    port = torch.zeros(1, dtype=torch.int64)
    try:
        if comm.is_main:
            store = dist.TCPStore(host, 0, None, True, timeout, wait_for_workers=False)
            port[0] = store.port
        dist.broadcast(port, src=0)  # a CPU tensor: Gloo carries it, with or without a GPU
        if not comm.is_main:
            store = dist.TCPStore(host, int(port[0]), None, False, timeout)
    except RuntimeError as exc:  # dist.DistError and the store's connection errors are RuntimeErrors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DistributedError(f"expected every process of the distributed run to start, found: {first}") from None
    return store


@contextmanager
def session() -> Iterator[Communicator]:
    """The distributed run, when a launcher started one: init, fail together, tear down.

    Without a launcher (or with a process group the caller already initialised) it yields
    :meth:`Communicator.current` and does nothing else.

    Raises:
        DistributedError: on rank 0, another rank's error (its message and exit code), or
            a lost or timed-out peer; on other ranks, their own error as a
            DistributedError (rank 0 reports it; the command line prints only on rank 0).
    """
    if launched_world_size() <= 1 or (dist.is_available() and dist.is_initialized()):
        yield Communicator.current()
        return
    _init()
    comm = Communicator.current()
    try:
        store = _own_store(comm)
    except DistributedError:
        dist.destroy_process_group()
        raise
    main_thread = comm.is_main and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        yield comm
    except Exception as exc:
        if not comm.is_main:
            raise _leave(store, comm.rank, exc) from None
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let rank 0 print its line; the launcher is stopping us
        failure = _main_failure(exc, store, comm.size)
        store.set(_key("ack"), "1")
        if failure is exc:
            raise
        raise failure from None
    finally:
        if main_thread and previous is not None and signal.getsignal(signal.SIGTERM) == _on_sigterm:
            signal.signal(signal.SIGTERM, previous)
        if dist.is_initialized():
            dist.destroy_process_group()
