"""Plan the cells of a suite, skip the finished ones, hand the rest to an executor, store each as it ends."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bench import registry
from bench.cell import CellSpec
from bench.config import Suite
from bench.data import load_dataset
from bench.splits import load_parts
from bench.store import ResultsStore


@dataclass
class RunSummary:
    planned: int
    skipped: int  # already in the store
    ok: int = 0
    failed: int = 0
    interrupted: bool = False

    @property
    def executed(self) -> int:
        return self.ok + self.failed


def plan(suite: Suite, data_dir: Path | None = None) -> list[CellSpec]:
    """Every cell of the suite in a stable order.

    Classifiers outermost, so the cells of a second classifier find the first one's cached rows
    (bench/cell.py); then datasets, so a worker reuses the dataset it has loaded.
    """
    cells = []
    steps = suite.augmentation_steps or (None,)
    for clf, ds in itertools.product(suite.classifiers, suite.datasets):
        # a dataset with fixed splits brings its own seeds, one train/test pair each
        seeds, folds, repeats = (ds.splits["seeds"], 1, 1) if ds.splits else (suite.seeds, suite.folds, suite.repeats)
        for seed, fold, method, step in itertools.product(seeds, range(folds * repeats), suite.methods, steps):
            if step and method.name == "none":
                continue  # adds nothing at any step: its step-0 cell is the shared baseline
            if (method.only_datasets and ds.name not in method.only_datasets) or fold >= (method.only_folds or fold + 1):
                continue  # an expensive method limited to part of the suite
            group_aware = suite.group_aware if method.group_aware is None else method.group_aware
            group_aware = bool(group_aware and ds.group and registry.resolve(method.name).supports_group_aware)
            cells.append(CellSpec(suite.name, ds, method, clf, seed, fold, folds, repeats, group_aware,
                                  str(data_dir) if data_dir else None, step, suite.augmentation_of))
    return cells


def check_datasets(suite: Suite, data_dir: Path | None = None) -> None:
    """Load every dataset once before any cell runs, so a missing file or bad checksum stops the sweep early."""
    for spec in suite.datasets:
        if spec.splits:
            for seed in spec.splits["seeds"]:
                load_parts(spec, seed, data_dir)
            continue
        ds = load_dataset(spec, data_dir)
        smallest = int(ds.y.value_counts().min())
        if smallest < suite.folds:
            from bench.data import DatasetError

            raise DatasetError(f"dataset {spec.name!r}: the minority class has {smallest} rows, fewer than the "
                               f"{suite.folds} folds of stratified k-fold; lower 'folds'")


def run(suite: Suite, store: ResultsStore, executor, data_dir: Path | None = None, retry_failed: bool = False,
        show_progress: bool = True) -> RunSummary:
    cells = plan(suite, data_dir)
    done = store.done_keys([c.key for c in cells], include_failed=not retry_failed)
    todo = [c for c in cells if c.key not in done]
    store.relabel([c for c in cells if c.key in done])
    summary = RunSummary(planned=len(cells), skipped=len(cells) - len(todo))
    if not todo:
        return summary
    check_datasets(suite, data_dir)

    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("ok {task.fields[ok]}  failed {task.fields[failed]}"), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(), disable=not show_progress,
    )
    plain = _PlainProgress(suite.name)  # a log file or CI gets a line a minute instead of a live bar
    with progress:
        task = progress.add_task(suite.name, total=len(todo), ok=0, failed=0)
        try:
            for spec, outcome in executor.map(todo):
                store.put(spec, outcome.status, outcome.metrics, outcome.error, outcome.seconds,
                          outcome.started_at, outcome.finished_at)
                if outcome.status == "ok":
                    summary.ok += 1
                else:
                    summary.failed += 1
                    progress.console.print(f"[red]{outcome.status}[/red] {spec.dataset.name} / {spec.method.label} "
                                           f"/ {spec.classifier.name} fold {spec.fold}: "
                                           f"{(outcome.error or '').splitlines()[0][:200]}")
                progress.update(task, advance=1, ok=summary.ok, failed=summary.failed)
                if show_progress and not progress.console.is_terminal:
                    plain.tick(summary, len(todo))
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            executor.close()
    return summary


class _PlainProgress:
    def __init__(self, name: str, every: float = 60.0):
        self.name, self.every = name, every
        self.start = self.last = time.monotonic()

    def tick(self, summary: RunSummary, total: int) -> None:
        now = time.monotonic()
        done = summary.executed
        if now - self.last < self.every and done < total:
            return
        self.last = now
        eta = (now - self.start) / done * (total - done)
        print(f"{self.name}: {done}/{total} cells ({summary.ok} ok, {summary.failed} failed), "
              f"{now - self.start:.0f} s elapsed, eta {eta:.0f} s", flush=True)
