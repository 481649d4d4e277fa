"""The `bench` command: run suites, publish leaderboards, list what exists, show recorded cells."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

# Only typer and rich at import time: `bench --help` and `bench list` must answer at once, and the core pulls
# pandas and scikit-learn (seconds). Each command imports what it uses.

app = typer.Typer(
    help="oversampling-bench: which oversampling method should I use for imbalanced tabular data, how much does "
    "it help the minority class and the worst-off group, and what does it cost?",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # click's plain help: typer's rich help formatter alone takes about 0.5 s to import
)
console = Console(stderr=True)
ROOT = Path(__file__).resolve().parent.parent
LEADERBOARDS = ROOT / "leaderboards"
DATASETS_DIR = ROOT / "datasets"  # = bench.config.DATASETS_DIR, without importing it
DEFAULT_PATH = ROOT / "results" / "bench.sqlite"  # = bench.store.DEFAULT_PATH, likewise

ResultsOpt = Annotated[Path, typer.Option("--results", help="Results store (SQLite).", envvar="BENCH_RESULTS")]


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors a user causes and can fix: shown as one line, never as a traceback."""
    from bench.config import SuiteError
    from bench.data import DatasetError
    from bench.executors import ExecutorError
    from bench.registry import UnknownMethodError
    from bench.store import StoreError

    return SuiteError, DatasetError, UnknownMethodError, StoreError, ExecutorError


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
    from bench.config import load_suite
    from bench.executors import make_executor
    from bench.store import ResultsStore

    try:
        s = load_suite(suite).select(dataset, method)
        s = s.override(seeds=tuple(seeds) if seeds else None, folds=folds, repeats=repeats,
                       cell_timeout_s=timeout, cell_memory_gb=memory_gb)
        if dry_run:  # a store that does not exist yet holds nothing, and is not created
            cells = runner.plan(s, data_dir)
            done = ResultsStore(results).done_keys([c.key for c in cells], include_failed=not retry_failed) \
                if Path(results).exists() else set()
            console.print(f"{s.name}: {len(cells)} cells, {len(done)} already recorded, {len(cells) - len(done)} to run")
            return
        store = ResultsStore(results)
        ex = make_executor(executor.value, workers, s.cell_timeout_s, s.cell_memory_gb, ray_address)
        summary = runner.run(s, store, ex, data_dir=data_dir, retry_failed=retry_failed,
                             show_progress=True)
    except _user_errors() as e:
        _fail(str(e))
        return
    console.print(
        f"{s.name}: {summary.planned} cells planned, {summary.skipped} already recorded, "
        f"{summary.executed} run ({summary.ok} ok, {summary.failed} failed). Results: {results}"
    )
    if summary.interrupted:
        console.print("[yellow]interrupted[/yellow]: finished cells are saved; run the same command to continue.")
        raise typer.Exit(130)


def _split(values: Optional[list[str]]) -> Optional[list[str]]:
    """Repeated options and comma-separated lists alike: --methods a,b --methods c."""
    return [v.strip() for x in values for v in x.split(",") if v.strip()] if values else None


@app.command("compare")
def compare_(
    path: Annotated[Optional[Path], typer.Argument(metavar="PATH", show_default=False,
                                                   help="A CSV/TSV, Parquet or ARFF file.")] = None,
    target: Annotated[str, typer.Option(metavar="COLUMN", show_default=False, help="The label column.")] = ...,
    minority: Annotated[Optional[str], typer.Option(
        metavar="LABEL", help="The minority label (default: the smaller of two classes; with more: one-vs-rest).",
    )] = None,
    group: Annotated[Optional[str], typer.Option(
        metavar="COLUMN", help="A column with two groups, for worst-group metrics.")] = None,
    group_values: Annotated[Optional[list[str]], typer.Option(
        metavar="VALUE[,VALUE]", help="Binarise --group: these values against the rest.")] = None,
    group_threshold: Annotated[Optional[float], typer.Option(
        metavar="T", help="Binarise a numeric --group: <= T against > T.")] = None,
    group_aware: Annotated[bool, typer.Option(
        "--group-aware", help="Grow (class, group) cells instead of the class.")] = False,
    methods: Annotated[Optional[list[str]], typer.Option(
        metavar="METHOD[,METHOD]", help="Default: every classic method, the references, tvae.")] = None,
    classifier: Annotated[Optional[list[str]], typer.Option(
        metavar="NAME[,NAME]", help="Classifier(s); default xgboost.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="5 folds x 1, no generative methods.")] = False,
    thorough: Annotated[bool, typer.Option("--thorough", help="5 folds x 5, CTGAN too.")] = False,
    folds: Annotated[Optional[int], typer.Option(help="Folds (default 5).")] = None,
    repeats: Annotated[Optional[int], typer.Option(help="Repeats of the folds (default 2).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the splits and methods.")] = 0,
    drop: Annotated[Optional[list[str]], typer.Option(metavar="COLUMN", help="Columns to leave out.")] = None,
    keep: Annotated[Optional[list[str]], typer.Option(
        metavar="COLUMN", help="Keep a column that looks like an ID, a date or a constant.")] = None,
    metric: Annotated[str, typer.Option(help="Metric of the recommendation.")] = "balanced_accuracy",
    openml: Annotated[Optional[int], typer.Option(help="An OpenML dataset id instead of a file (cached).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Name of the dataset (default: the file name).")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Folder for the suite, results and report (default results/compare/<name>).")] = None,
    executor: Annotated[ExecutorName, typer.Option(help="inline, processes or ray.")] = ExecutorName.processes,
    workers: Annotated[Optional[int], typer.Option(help="Parallel cells (default: number of cores).")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Per-cell time limit in seconds (default 900).")] = None,
) -> None:
    """Which oversampling method for your data? Methods on one table, with fold-level 95% intervals vs `none`.

    Writes the suite it ran (re-run, share or resume it with `bench run`), the results store and a report
    (README.md, index.html, cells.csv) under --out. Ctrl-C, then the same command, resumes.
    """
    from bench.comparison import compare
    from bench.owndata import CompareError, dataset_name

    out = out or Path("results") / "compare" / dataset_name(path, openml, name)
    try:
        result = compare(path, target, openml=openml, minority=minority, group=group,
                         group_values=_split(group_values), group_threshold=group_threshold,
                         group_aware=group_aware,
                         methods=_split(methods), classifier=_split(classifier) or ["xgboost"], quick=quick,
                         thorough=thorough, folds=folds, repeats=repeats, seed=seed, drop=_split(drop) or [],
                         keep=_split(keep) or [], metric=metric, name=name, out=out, executor=executor.value,
                         workers=workers, timeout=timeout)
    except (CompareError, *_user_errors()) as e:
        _fail(str(e))
        return
    except KeyboardInterrupt as e:
        console.print(f"[yellow]{str(e) or 'interrupted'}[/yellow]")
        raise typer.Exit(130) from None
    r = result.run_summary
    console.print(f"{r.planned} cells: {r.skipped} already recorded, {r.executed} run now "
                  f"({r.ok} ok, {r.failed} failed)")
    typer.echo(str(result))
    console.print(f"wrote {out}/: README.md, index.html, cells.csv, results.sqlite and suite.yaml (re-run or "
                  f"resume: bench run {out}/suite.yaml --results {out}/results.sqlite)", soft_wrap=True)


@app.command()
def leaderboard(
    suite: Annotated[str, typer.Argument(help="Suite name (as recorded in the store).")],
    results: ResultsOpt = DEFAULT_PATH,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default leaderboards/<suite>).")] = None,
    plots: Annotated[bool, typer.Option(help="Draw the figures (CD diagrams, charts); --no-plots is faster.")] = True,
    posthoc: Annotated[str, typer.Option(help="Post-hoc test after Friedman: nemenyi or wilcoxon-holm.")] = "nemenyi",
) -> None:
    """Write leaderboards/<suite>/ (README.md, index.html, figures, CSV/JSON exports) from the results store alone."""
    from bench.config import SuiteError, load_suite
    from bench.leaderboard import report
    from bench.leaderboard.stats import POSTHOC
    from bench.store import ResultsStore, StoreError

    if posthoc not in POSTHOC:
        _fail(f"--posthoc must be one of {', '.join(POSTHOC)}, not {posthoc!r}")
    try:
        name = load_suite(suite).name
    except SuiteError:  # a suite recorded in the store whose file is gone
        name = suite
    try:
        cells = ResultsStore(results, readonly=True).frame(name)
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
        from bench.registry import available, families, provider_errors

        family = families()
        out.print(f"{'name':28} {'family':15} target", style="bold")
        for name, target in sorted(available().items(), key=lambda kv: (family[kv[0]], kv[0])):
            out.print(f"{name:28} {family[name]:15} {target}", highlight=False, soft_wrap=True)
        for error in provider_errors():
            out.print(error, style="red", highlight=False, soft_wrap=True)
    elif what is What.datasets:
        import yaml  # the catalog as written, without bench.data's pandas (`bench run` validates it)

        for entry in yaml.safe_load((DATASETS_DIR / "imbalanced.yaml").read_text())["datasets"]:
            group = f"group: {entry['group']['column']}" if entry.get("group") else ""
            out.print(f"{entry['name']:34} openml {str(entry.get('openml_id')):6} {group}")
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
    from bench.store import ResultsStore, StoreError

    try:
        cells = ResultsStore(results, readonly=True).frame(suite)
    except StoreError as e:
        _fail(str(e))
        return
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


@app.command("export")
def export_(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="The JSON-lines file to write.")],
    results: ResultsOpt = DEFAULT_PATH,
    suite: Annotated[Optional[str], typer.Option(help="Only this suite's cells.")] = None,
) -> None:
    """Write the store's rows as JSON lines (one cell a line, as stored): a text copy of a sweep to keep, commit
    or carry to another machine; `bench merge` reads it back."""
    from bench.store import ResultsStore, StoreError, export_rows

    try:
        store = ResultsStore(results, readonly=True)
        n = export_rows(store.rows(suite), out)
    except (StoreError, OSError) as e:
        _fail(str(e))
        return
    console.print(f"wrote {n} cells to {out}")


@app.command()
def merge(
    sources: Annotated[list[Path], typer.Argument(metavar="SOURCE...", help="Results stores or `bench export` files.")],
    results: ResultsOpt = DEFAULT_PATH,
) -> None:
    """Merge cells from other stores or exports into the store: new cells are added, a successful cell replaces a
    failed one, and a cell already recorded is kept. Every source is read and checked before anything is written.
    A sweep resumed after a merge skips the merged cells."""
    from bench.store import ResultsStore, StoreError, read_rows

    try:
        rows = [row for source in sources for row in read_rows(source)]
        counts = ResultsStore(results).merge(rows)
    except StoreError as e:
        _fail(str(e))
        return
    console.print(f"{results}: {counts['added']} cells added, {counts['replaced']} failed cells replaced, "
                  f"{counts['kept']} kept as recorded")


if __name__ == "__main__":
    app()
