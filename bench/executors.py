"""Where cells run. Every failure becomes an outcome (a row), never a crash of the sweep.

- ``inline``: in this process, one after another (debugging; no time or memory limit).
- ``processes`` (default): a pool of worker processes (pebble). A cell over its time limit has its worker
  killed and replaced; a worker over its memory limit raises MemoryError; a worker that dies is replaced.
- ``ray``: Ray tasks, on this machine or a cluster; GPU-hungry methods ask for a GPU.
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
    """Ask Linux to kill this worker when the driver dies (kill -9 included), so no orphan keeps computing."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class ProcessExecutor:
    """Run cells in ``workers`` processes, each cell limited to ``timeout`` seconds and ``memory_gb``."""

    name = "processes"

    def __init__(self, workers: int | None = None, timeout: float | None = 900.0, memory_gb: float | None = 8.0):
        from pebble import ProcessPool

        self.workers = workers or max(1, os.cpu_count() or 1)
        self.timeout = timeout
        for var in THREAD_VARS:  # inherited by the workers before they import numpy or torch
            os.environ.setdefault(var, "1")
        self.pool = ProcessPool(
            max_workers=self.workers,
            initializer=_init_worker,
            initargs=(memory_gb,),
            context=multiprocessing.get_context("spawn"),  # no fork under the progress thread
        )

    def map(self, cells: list[CellSpec]) -> Iterator[tuple[CellSpec, Outcome]]:
        from pebble import ProcessExpired

        futures = {self.pool.schedule(execute, args=(spec,), timeout=self.timeout): spec for spec in cells}
        for future in concurrent.futures.as_completed(futures):
            spec = futures[future]
            try:
                outcome = future.result()
            except BrokenProcessPool as e:  # no cell's fault: stop, record nothing, a re-run retries
                raise ExecutorError(f"the worker pool broke ({e}); workers could not start or all died. "
                                    "Try --executor inline to see why.") from e
            except concurrent.futures.TimeoutError:
                outcome = Outcome("timeout", error=f"cell exceeded its {self.timeout:.0f} s time limit")
            except ProcessExpired as e:
                outcome = Outcome("crashed", error=f"worker died (exit code {e.exitcode}); out of memory or a "
                                                   f"native crash")
            except Exception as e:  # noqa: BLE001 - e.g. a result that cannot be unpickled
                outcome = Outcome("error", error=f"{type(e).__name__}: {e}")
            yield spec, outcome if outcome.started_at else _unreported(outcome, self.timeout)

    def close(self) -> None:
        self.pool.stop()
        self.pool.join()


_worker_ready = False


def _ray_execute(spec: CellSpec, memory_gb: float | None, clock: Any) -> Outcome:
    """A Ray task: set the worker up once (threads, memory cap), start the cell's clock, run the cell."""
    global _worker_ready
    if not _worker_ready:
        for var in THREAD_VARS:
            os.environ[var] = "1"
        _init_worker(memory_gb)
        _worker_ready = True
    clock.start.remote(spec.key)
    return execute(spec)


class _StartTimes:
    """A Ray actor noting when each cell starts running, so a time limit counts from there: time spent queued
    or starting a worker (seconds on a loaded machine, and again after each forced cancel) is not the cell's."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def start(self, key: str) -> None:
        self.started[key] = time.monotonic()

    def forget(self, key: str) -> None:
        self.started.pop(key, None)

    def overdue(self, limit: float) -> list[str]:
        now = time.monotonic()
        return [key for key, t in self.started.items() if now - t > limit]


class RayExecutor:
    """Run cells as Ray tasks, locally (``ray.init()``) or on a cluster (``address``, e.g. ``"auto"``).

    The driver stays the only writer of the results store. Cells whose method sets ``requests_gpu`` ask Ray
    for a GPU when the cluster has one. At most one task per CPU is in flight. The time limit counts from the
    cell's start in its worker (``_StartTimes``) and is enforced with a forced cancel.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, timeout: float | None = 900.0,
                 memory_gb: float | None = 8.0):
        import ray

        if not ray.is_initialized():
            kw = {"address": address} if address else {"num_cpus": workers or os.cpu_count()}
            ray.init(**kw, include_dashboard=False, log_to_driver=False, configure_logging=False)
        self.ray, self.timeout, self.memory_gb = ray, timeout, memory_gb
        self.task = ray.remote(_ray_execute)
        self.clock = ray.remote(num_cpus=0)(_StartTimes).remote()
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.has_gpu = ray.cluster_resources().get("GPU", 0) > 0

    def _submit(self, spec: CellSpec):
        from bench import registry

        gpu = 1 if self.has_gpu and registry.resolve(spec.method.name).requests_gpu else 0
        return self.task.options(num_cpus=1, num_gpus=gpu, max_retries=0).remote(spec, self.memory_gb, self.clock)

    def map(self, cells: list[CellSpec]) -> Iterator[tuple[CellSpec, Outcome]]:
        ray = self.ray
        queue, running, cancelled = list(cells), {}, set()
        while queue or running:
            while queue and len(running) < self.slots:
                spec = queue.pop(0)
                running[self._submit(spec)] = spec
            done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in done:
                spec = running.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.TaskCancelledError:
                    outcome = Outcome("timeout", error=f"cell exceeded its {self.timeout:.0f} s time limit")
                except ray.exceptions.OutOfMemoryError as e:
                    outcome = Outcome("oom", error=f"Ray's memory monitor killed the cell: {e}")
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.RayTaskError) as e:
                    outcome = Outcome("crashed", error=f"{type(e).__name__}: {e}")
                self.clock.forget.remote(spec.key)
                yield spec, outcome if outcome.started_at else _unreported(outcome, self.timeout)
            if self.timeout and running:
                refs = {spec.key: ref for ref, spec in running.items()}
                for key in ray.get(self.clock.overdue.remote(self.timeout)):
                    if key in refs and key not in cancelled:
                        ray.cancel(refs[key], force=True)  # reported as TaskCancelledError on the next wait
                        cancelled.add(key)

    def close(self) -> None:
        pass  # leave Ray running: the caller may own it (a cluster, or tests)


def make_executor(name: str, workers: int | None, timeout: float | None, memory_gb: float | None,
                  address: str | None = None):
    if name == "inline":
        return InlineExecutor()
    if name == "processes":
        return ProcessExecutor(workers, timeout, memory_gb)
    if name == "ray":
        return RayExecutor(address, workers, timeout, memory_gb)
    raise ValueError(f"unknown executor {name!r}; choose inline, processes or ray")
