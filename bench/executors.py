"""Where cells run. Every failure becomes an outcome (a row), never a crash of the sweep.

- ``inline``: in this process, one after another (debugging; no time or memory limit).
- ``processes`` (default): a pool of worker processes (pebble). A cell over its time limit has its worker
  killed and replaced; a worker over its memory limit raises MemoryError; a worker that dies is replaced.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bench.cell import CellSpec, run_cell

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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
    if memory_gb:
        import resource

        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


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
        started = {f: time.perf_counter() for f in futures}
        for future in concurrent.futures.as_completed(futures):
            spec = futures[future]
            try:
                outcome = future.result()
            except concurrent.futures.TimeoutError:
                outcome = Outcome("timeout", error=f"cell exceeded its {self.timeout:.0f} s time limit")
            except ProcessExpired as e:
                outcome = Outcome("crashed", error=f"worker died (exit code {e.exitcode}); out of memory or a "
                                                   f"native crash")
            except Exception as e:  # noqa: BLE001 - e.g. a result that cannot be unpickled
                outcome = Outcome("error", error=f"{type(e).__name__}: {e}")
            if not outcome.started_at:
                outcome.seconds = time.perf_counter() - started[future]
                outcome.started_at = outcome.finished_at = _now()
            yield spec, outcome

    def close(self) -> None:
        self.pool.stop()
        self.pool.join()


def make_executor(name: str, workers: int | None, timeout: float | None, memory_gb: float | None):
    if name == "inline":
        return InlineExecutor()
    if name == "processes":
        return ProcessExecutor(workers, timeout, memory_gb)
    raise ValueError(f"unknown executor {name!r}; choose inline or processes")
