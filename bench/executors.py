"""Where cells run. Every failure becomes an outcome (a row), never a crash of the sweep.

- ``inline``: in this process, one after another (debugging; no time or memory limit).
- ``processes`` (default): a pool of worker processes (pebble). A cell over its time limit has its worker
  killed and replaced; a worker over its memory limit raises MemoryError; a worker that dies is replaced.
- ``ray``: Ray tasks, on this machine or a cluster; each Ray worker runs its cells in a child process under the
  same limits (a Ray worker itself cannot be capped); GPU-hungry methods ask for a GPU.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from bench.cell import CellSpec, run_cell

class ExecutorError(RuntimeError):
    """The executor itself failed (not a cell): the sweep stops; finished cells stay recorded."""


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")


@dataclass
class Outcome:
    status: str  # ok | error | timeout | oom | crashed
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    started_at: str = ""
    finished_at: str = ""


def _stamp(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def _now() -> str:
    return _stamp(datetime.now(timezone.utc))


def _unreported(outcome: Outcome, timeout: float | None) -> Outcome:
    """Times of a cell whose worker never reported back: a timeout ran for its limit (counted from its start,
    not from when it was queued); for a crash the run time is unknown and recorded as 0."""
    outcome.seconds = float(timeout) if outcome.status == "timeout" and timeout else 0.0
    end = datetime.now(timezone.utc)  # one reading, so finish - start is exactly the seconds recorded
    outcome.started_at, outcome.finished_at = _stamp(end - timedelta(seconds=outcome.seconds)), _stamp(end)
    return outcome


def execute(spec: CellSpec) -> Outcome:
    """Run a cell and turn any exception into an outcome (this runs inside the worker)."""
    started, t0 = _now(), time.perf_counter()
    try:
        metrics, status, error = run_cell(spec), "ok", None
    except MemoryError:
        metrics, status, error = {}, "oom", "MemoryError: the cell went over its memory limit"
    except Exception as e:  # noqa: BLE001 - every failure of a plugin must become a row
        metrics, status = {}, "error"
        error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-8)}"
    return Outcome(status, metrics, error, time.perf_counter() - t0, started, _now())


class InlineExecutor:
    name = "inline"

    def map(self, cells: list[CellSpec]) -> Iterator[tuple[CellSpec, Outcome]]:
        for spec in cells:
            yield spec, execute(spec)

    def close(self) -> None:
        pass


def _init_worker(memory_gb: float | None) -> None:
    """Pin native thread pools to one thread and cap the address space (runs once per worker)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    _die_with_parent()
    if memory_gb:
        import resource

        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when its parent (the driver, or a Ray worker) dies, kill -9 included, so no
    orphan keeps computing."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _pool(workers: int, memory_gb: float | None):
    """A pebble pool of spawned workers, each pinned to one thread and capped to ``memory_gb`` of address space."""
    from pebble import ProcessPool

    for var in THREAD_VARS:  # inherited by the workers before they import numpy or torch
        os.environ.setdefault(var, "1")
    return ProcessPool(max_workers=workers, initializer=_init_worker, initargs=(memory_gb,),
                       context=multiprocessing.get_context("spawn"))  # no fork under the progress thread


def _collect(future: Any, timeout: float | None) -> Outcome:
    """The outcome of a cell scheduled on a pebble pool, whatever happened to its worker."""
    from pebble import ProcessExpired

    try:
        outcome = future.result()
    except BrokenProcessPool as e:  # no cell's fault: stop, record nothing, a re-run retries
        raise ExecutorError(f"the worker pool broke ({e}); workers could not start or all died. "
                            "Try --executor inline to see why.") from e
    except concurrent.futures.TimeoutError:
        outcome = Outcome("timeout", error=f"cell exceeded its {timeout:.0f} s time limit")
    except ProcessExpired as e:
        outcome = Outcome("crashed", error=f"worker died (exit code {e.exitcode}); out of memory or a native crash")
    except Exception as e:  # noqa: BLE001 - e.g. a result that cannot be unpickled
        outcome = Outcome("error", error=f"{type(e).__name__}: {e}")
    return outcome if outcome.started_at else _unreported(outcome, timeout)


class ProcessExecutor:
    """Run cells in ``workers`` processes, each cell limited to ``timeout`` seconds and ``memory_gb``."""

    name = "processes"

    def __init__(self, workers: int | None = None, timeout: float | None = 900.0, memory_gb: float | None = 8.0):
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.timeout = timeout
        self.pool = _pool(self.workers, memory_gb)

    def map(self, cells: list[CellSpec]) -> Iterator[tuple[CellSpec, Outcome]]:
        futures = {self.pool.schedule(execute, args=(spec,), timeout=self.timeout): spec for spec in cells}
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], _collect(future, self.timeout)

    def close(self) -> None:
        self.pool.stop()
        self.pool.join()


# -- Ray ---------------------------------------------------------------------------------------------------
# A Ray worker cannot carry the cell's limits: capping its address space kills Ray's own runtime (it maps the
# node's object store and gRPC arenas; abseil then loops on SIGABRT, and the task never reports back). So each
# Ray worker runs its cells in one child process of its own, a one-worker pebble pool with the same limits as
# the `processes` executor: the child is killed at the time limit, its death is a `crashed` row, an address-space
# failure an `oom` row, and the Ray worker survives all three.
_child: tuple[tuple, Any] | None = None  # (what it was started with, its pool), once per Ray worker


def _ray_execute(spec: CellSpec, timeout: float | None, memory_gb: float | None, clock: Any) -> Outcome:
    """A Ray task: run the cell in this worker's capped child process, note its start, return its outcome."""
    global _child
    import ray

    # a GPU task may land on a worker whose child was started with other devices visible
    wanted = (memory_gb, os.environ.get("CUDA_VISIBLE_DEVICES"))
    if _child is None or _child[0] != wanted:
        if _child is not None:
            _child[1].stop()
        _child = (wanted, _pool(1, memory_gb))
    # Starting (or replacing) the child takes seconds that are not the cell's, so the child first answers a
    # no-op; then the start goes on record with the driver's clock, and only then does the child take the cell:
    # a cell that stops this worker at once cannot leave the backstop without a start time. Never wait
    # unboundedly, so a child stuck starting still meets the driver's backstop.
    try:
        _child[1].schedule(os.getpid).result(timeout=600)
    except Exception:  # noqa: BLE001 - the cell's own run below reports what is wrong with the child
        pass
    ray.get(clock.start.remote(spec.key))
    future = _child[1].schedule(execute, args=(spec,), timeout=timeout)
    try:
        return _collect(future, timeout)
    except ExecutorError:
        _child = None  # the next task tries a fresh child
        raise


class _StartTimes:
    """A Ray actor noting when each cell starts in its worker. The worker enforces the time limit itself; this
    is the backstop for a Ray worker that stops answering (a timeout then counts from the cell's start, never
    from the queue: seconds on a loaded machine, or a GPU task waiting for its GPU)."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def start(self, key: str) -> None:
        self.started[key] = time.monotonic()

    def forget(self, key: str) -> None:
        self.started.pop(key, None)

    def overdue(self, limit: float) -> list[str]:
        now = time.monotonic()
        return [key for key, t in self.started.items() if now - t > limit]


def _check_reachable(address: str) -> None:
    """Fail at once when nothing answers at a cluster address: ``ray.init`` would retry it for minutes."""
    import socket

    from ray._private.services import canonicalize_bootstrap_address

    if "://" in address:
        return  # Ray Client: its own connection error comes quickly
    try:
        target = canonicalize_bootstrap_address(address)  # where Ray will connect ("auto" looked up, ...)
    except Exception as e:  # noqa: BLE001 - Ray's own words, whatever the exception
        raise ExecutorError(f"--ray-address {address!r}: {e}") from e
    if target is None:
        return  # "local": a new Ray on this machine
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except (OSError, ValueError) as e:
        rewritten = "" if target == address else (
            f" (Ray turned {address} into {target}; for a cluster started on 127.0.0.1, set "
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 for `ray start` and `bench run`)")
        raise ExecutorError(f"no Ray cluster answers at {target}{rewritten}: {e}. Start one with `ray start "
                            "--head`, or check --ray-address") from e


class RayExecutor:
    """Run cells as Ray tasks, locally (``ray.init()``) or on a cluster (``address``, e.g. ``"auto"``).

    The driver stays the only writer of the results store. Each task runs its cell in a child process of its
    Ray worker, under the time and memory limits (see ``_ray_execute``). A Ray worker or node that dies is a
    ``crashed`` row as soon as Ray reports it; one that stops answering is cancelled ``grace`` seconds past the
    time limit (a ``timeout`` row). Cells whose method sets ``requests_gpu`` ask Ray for a GPU when the cluster
    has one. At most one task per CPU is in flight.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, timeout: float | None = 900.0,
                 memory_gb: float | None = 8.0):
        import ray

        if not ray.is_initialized():
            if address:
                _check_reachable(address)
            kw = {"address": address} if address else {"num_cpus": workers or os.cpu_count()}
            try:
                ray.init(**kw, include_dashboard=False, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ExecutorError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {e}") from e
        self.ray, self.timeout, self.memory_gb = ray, timeout, memory_gb
        self.grace = 10.0 + 0.1 * (timeout or 0)  # the worker's own kill and reply take seconds, not this
        self.task = ray.remote(_ray_execute)
        self.clock = ray.remote(num_cpus=0)(_StartTimes).remote()
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.has_gpu = ray.cluster_resources().get("GPU", 0) > 0
        self.running: dict[Any, CellSpec] = {}

    def _submit(self, spec: CellSpec):
        from bench import registry

        gpu = 1 if self.has_gpu and registry.resolve(spec.method.name).requests_gpu else 0
        return self.task.options(num_cpus=1, num_gpus=gpu, max_retries=0).remote(spec, self.timeout,
                                                                                  self.memory_gb, self.clock)

    def _outcome(self, ref: Any, cancelled: bool) -> Outcome:
        errors = self.ray.exceptions
        try:
            return self.ray.get(ref)
        except errors.RayError as e:
            # A force-cancel kills the worker: Ray reports it as the cancel or, racing it, as the worker's death
            # (WorkerCrashedError). Either way the cell was cancelled for running past its time limit.
            if cancelled or isinstance(e, errors.TaskCancelledError):
                return Outcome("timeout", error=f"its Ray worker stopped answering; cancelled {self.grace:.0f} s "
                                                f"past the cell's {self.timeout:.0f} s time limit")
            if isinstance(e, errors.OutOfMemoryError):
                return Outcome("oom", error=f"Ray's memory monitor killed the cell's Ray worker: {e}")
            if isinstance(e, (errors.RayTaskError, errors.RaySystemError)):  # the task failed, not its cell
                raise ExecutorError(f"a Ray task failed outside its cell: {e}. Every node needs this project "
                                    "installed (same version, same Python) and the dataset mirror.") from e
            first = (str(e).strip().splitlines() or [""])[0]  # the worker, its node or the result is gone
            return Outcome("crashed", error=f"the Ray worker running the cell died ({type(e).__name__}: {first})")

    def _cancel_unanswered(self, cancelled: set[str]) -> None:
        refs = {spec.key: ref for ref, spec in self.running.items()}
        try:
            overdue = self.ray.get(self.clock.overdue.remote(self.timeout + self.grace))
        except self.ray.exceptions.RayActorError:  # the clock's node died: a new clock, the backstop restarts
            self.clock = self.ray.remote(num_cpus=0)(_StartTimes).remote()
            return
        for key in overdue:
            if key in refs and key not in cancelled:
                self.ray.cancel(refs[key], force=True)  # reported as TaskCancelledError on a next wait
                cancelled.add(key)

    def map(self, cells: list[CellSpec]) -> Iterator[tuple[CellSpec, Outcome]]:
        queue, cancelled = list(cells), set()
        while queue or self.running:
            while queue and len(self.running) < self.slots:
                spec = queue.pop(0)
                self.running[self._submit(spec)] = spec
            done, _ = self.ray.wait(list(self.running), num_returns=1, timeout=1.0)
            for ref in done:
                spec = self.running.pop(ref)
                outcome = self._outcome(ref, spec.key in cancelled)
                self.clock.forget.remote(spec.key)
                yield spec, outcome if outcome.started_at else _unreported(outcome, self.timeout)
            if self.timeout and self.running:
                self._cancel_unanswered(cancelled)

    def close(self) -> None:
        """Cancel cells still running (Ctrl-C); leave Ray itself running: the caller may own it."""
        for ref in self.running:
            self.ray.cancel(ref, force=True)
        self.running.clear()


def make_executor(name: str, workers: int | None, timeout: float | None, memory_gb: float | None,
                  address: str | None = None):
    if workers is not None and workers < 1:
        raise ExecutorError(f"--workers must be at least 1, got {workers}")
    if name == "inline":
        return InlineExecutor()
    if name == "processes":
        return ProcessExecutor(workers, timeout, memory_gb)
    if name == "ray":
        return RayExecutor(address, workers, timeout, memory_gb)
    raise ValueError(f"unknown executor {name!r}; choose inline, processes or ray")
