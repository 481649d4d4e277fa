"""The `bench` command: run suites, publish leaderboards, list what exists, show recorded cells."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from bench.config import DATASETS_DIR, SuiteError, load_suite
from bench.data import DatasetError
from bench.executors import ExecutorError
from bench.registry import UnknownMethodError
from bench.store import DEFAULT_PATH, ResultsStore, StoreError

app = typer.Typer(
    help="oversampling-bench: which oversampling method should I use for imbalanced tabular data, how much does "
    "it help the minority class and the worst-off group, and what does it cost?",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
LEADERBOARDS = Path(__file__).resolve().parent.parent / "leaderboards"

ResultsOpt = Annotated[Path, typer.Option("--results", help="Results store (SQLite).", envvar="BENCH_RESULTS")]


class ExecutorName(str, Enum):
    inline = "inline"
    processes = "processes"
    ray = "ray"


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


@app.command()
def run(
    suite: Annotated[str, typer.Argument(help="Suite name in datasets/ (e.g. quick, imbalanced) or a YAML path.")],
    results: ResultsOpt = DEFAULT_PATH,
    data_dir: Annotated[Optional[Path], typer.Option(help="Mirror of dataset files; default $BENCH_DATA_DIR "
                                                          "or ../shared/datasets.")] = None,
    executor: Annotated[ExecutorName, typer.Option(help="Where cells run: inline (this process, for debugging), "
                                                        "processes (a local pool) or ray.")] = ExecutorName.processes,
    ray_address: Annotated[Optional[str], typer.Option(help="With --executor ray: a cluster address "
                                                            "('auto' or ray://host:port); default a local Ray.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Parallel cells (default: number of cores).")] = None,
    dataset: Annotated[Optional[list[str]], typer.Option(help="Only these datasets (repeatable).")] = None,
    method: Annotated[Optional[list[str]], typer.Option(help="Only these method labels (repeatable).")] = None,
    seeds: Annotated[Optional[list[int]], typer.Option("--seed", help="Override the suite's seeds.")] = None,
    folds: Annotated[Optional[int], typer.Option(help="Override the number of folds.")] = None,
    repeats: Annotated[Optional[int], typer.Option(help="Override the number of repeats.")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Per-cell time limit in seconds.")] = None,
    memory_gb: Annotated[Optional[float], typer.Option(help="Per-cell memory limit in GiB.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Run again cells that failed before.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Only say how many cells would run.")] = False,
) -> None:
    """Run every (method, dataset, seed, fold, classifier) cell of SUITE not already in the results store."""
    from bench import runner
    from bench.executors import make_executor

    try:
        s = load_suite(suite).select(dataset, method)
        s = s.override(seeds=tuple(seeds) if seeds else None, folds=folds, repeats=repeats,
                       cell_timeout_s=timeout, cell_memory_gb=memory_gb)
        store = ResultsStore(results)
        if dry_run:
            cells = runner.plan(s, data_dir)
            done = store.done_keys([c.key for c in cells], include_failed=not retry_failed)
            console.print(f"{s.name}: {len(cells)} cells, {len(done)} already recorded, {len(cells) - len(done)} to run")
            return
        ex = make_executor(executor.value, workers, s.cell_timeout_s, s.cell_memory_gb, ray_address)
        summary = runner.run(s, store, ex, data_dir=data_dir, retry_failed=retry_failed,
                             show_progress=True)
    except (SuiteError, DatasetError, UnknownMethodError, StoreError, ExecutorError) as e:
        _fail(str(e))
        return
    console.print(
        f"{s.name}: {summary.planned} cells planned, {summary.skipped} already recorded, "
        f"{summary.executed} run ({summary.ok} ok, {summary.failed} failed). Results: {results}"
    )
    if summary.interrupted:
        console.print("[yellow]interrupted[/yellow]: finished cells are saved; run the same command to continue.")
        raise typer.Exit(130)


@app.command()
def leaderboard(
    suite: Annotated[str, typer.Argument(help="Suite name (as recorded in the store).")],
    results: ResultsOpt = DEFAULT_PATH,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default leaderboards/<suite>).")] = None,
    plots: Annotated[bool, typer.Option(help="Draw the figures (CD diagrams, charts); --no-plots is faster.")] = True,
    posthoc: Annotated[str, typer.Option(help="Post-hoc test after Friedman: nemenyi or wilcoxon-holm.")] = "nemenyi",
) -> None:
    """Write leaderboards/<suite>/ (README.md, index.html, figures, CSV/JSON exports) from the results store alone."""
    from bench.leaderboard import report
    from bench.leaderboard.stats import POSTHOC

    if posthoc not in POSTHOC:
        _fail(f"--posthoc must be one of {', '.join(POSTHOC)}, not {posthoc!r}")
    try:
        name = load_suite(suite).name
    except SuiteError:  # a suite recorded in the store whose file is gone
        name = suite
    try:
        cells = ResultsStore(results).frame(name)
    except StoreError as e:
        _fail(str(e))
        return
    if cells.empty:
        _fail(f"no cells of suite {name!r} in {results}; run `bench run {suite}` first")
    path = report.write(cells, name, out or LEADERBOARDS / name, plots=plots, posthoc=posthoc)
    console.print(f"wrote {path.parent}/ (README.md, index.html, results.csv, results.json, stats.json"
                  + (", cd/, plots/)" if plots else ")"))


class What(str, Enum):
    methods = "methods"
    datasets = "datasets"
    suites = "suites"
    classifiers = "classifiers"
    metrics = "metrics"


@app.command("list")
def list_(what: Annotated[What, typer.Argument(help="What to list.")] = What.methods) -> None:
    """List registered methods, datasets of the catalog, suites, classifiers or metrics."""
    out = Console()
    if what is What.methods:
        from bench.registry import available

        for name, target in sorted(available().items()):
            out.print(f"{name:20} {target}")
    elif what is What.datasets:
        from bench.data import load_catalog

        for name, spec in load_catalog(DATASETS_DIR / "imbalanced.yaml").items():
            group = f"group: {spec.group.column}" if spec.group else ""
            out.print(f"{name:34} openml {str(spec.openml_id):6} {group}")
    elif what is What.suites:
        for f in sorted(DATASETS_DIR.glob("*.yaml")):
            out.print(f.stem)
    elif what is What.classifiers:
        from bench.classifiers import CLASSIFIERS

        out.print("\n".join(CLASSIFIERS))
    else:
        from bench.metrics import METRICS

        for m in METRICS.values():
            out.print(f"{m.name:22} {'higher' if m.higher_is_better else 'lower':6} is better  {m.description}")


@app.command()
def show(
    suite: Annotated[Optional[str], typer.Argument(help="Suite name.")] = None,
    results: ResultsOpt = DEFAULT_PATH,
    dataset: Annotated[Optional[str], typer.Option(help="Only this dataset.")] = None,
    method: Annotated[Optional[str], typer.Option(help="Only this method label.")] = None,
    key: Annotated[Optional[str], typer.Option(help="One cell by key (prefix).")] = None,
    failed: Annotated[bool, typer.Option(help="Only cells that did not succeed, with their errors.")] = False,
) -> None:
    """Show recorded cells: the numbers behind a leaderboard entry."""
    cells = ResultsStore(results).frame(suite)
    if cells.empty:
        _fail("no cells recorded")
    if dataset:
        cells = cells[cells["dataset"] == dataset]
    if method:
        cells = cells[cells["method"] == method]
    if key:
        cells = cells[cells["key"].str.startswith(key)]
    if failed:
        cells = cells[cells["status"] != "ok"]
    out = Console()
    if len(cells) == 1 or key:
        for _, row in cells.iterrows():
            out.print({k: v for k, v in row.items() if not (isinstance(v, float) and v != v)})
        return
    cols = ["key", "dataset", "method", "classifier", "seed", "fold", "status", "minority_recall", "balanced_accuracy",
            "fit_seconds"]
    out.print(cells[[c for c in cols if c in cells.columns]].to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    app()
