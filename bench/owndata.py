"""``bench compare``: a user's own table -> a checked dataset declaration and suite, run by the ordinary runner.

A table (CSV, Parquet or ARFF file, a DataFrame, or an OpenML id) becomes a ``DatasetSpec`` (the file and its
sha256, the target and its minority label, the group rule, the columns left out and why) and a suite, written
as YAML beside the results so that ``bench run`` re-runs, shares and resumes the same comparison. Every check
runs before anything is written; each problem is a ``CompareError`` saying what is wrong and how to fix it.
The per-dataset answer (fold-level intervals) comes from ``bench.leaderboard.single``.

``bench.compare(...)`` (bench/comparison.py) runs what this module prepares.

Examples
--------
>>> import bench                                                         # doctest: +SKIP
>>> result = bench.compare("churn.csv", target="churned", quick=True)   # doctest: +SKIP
>>> result.recommendation                                                # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bench import registry
from bench.data import DatasetError, DatasetSpec, FileSpec, GroupSpec, clean_column, minority_mask, read_raw

CLASSIC = ("none", "duplication", "smote", "borderline-smote", "adasyn", "svm-smote", "kmeans-smote",
           "ros-shrinkage")
REFERENCES = ("class-weights", "threshold")  # not oversampling: balanced weights, a tuned threshold
# preset -> (folds, repeats, generative methods added to the classic ones and the references)
PRESETS = {"quick": (5, 1, ()), "default": (5, 2, ("tvae",)), "thorough": (5, 5, ("tvae", "ctgan"))}
FORMATS = {".csv": "csv", ".tsv": "csv", ".tab": "csv", ".txt": "csv", ".data": "csv", ".parquet": "parquet",
           ".pq": "parquet", ".arff": "arff"}
_DATE = re.compile(r"^(\d{4}([-/.])\d{1,2}\2\d{1,2}|\d{1,2}([-/.])\d{1,2}\3\d{4}|\d{1,2}/\d{1,2}/\d{2})"
                   r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$|^\d{1,2}:\d{2}(:\d{2})?$")
_ID_NAME = re.compile(r"(^|[\s_.-])(id|uuid|guid|key)$|[a-z](ID|Id)$|^unnamed: ?\d+$", re.IGNORECASE)


class CompareError(ValueError):
    """Input ``bench compare`` cannot use; the message says what is wrong and how to fix it."""


@dataclass
class Prepared:
    """A checked comparison, ready to write and run: the dataset declaration and the suite document."""

    spec: DatasetSpec
    doc: dict[str, Any]  # the suite, as YAML will hold it
    counts: dict[str, int]  # rows per label of the target
    notes: list[str] = field(default_factory=list)  # what was inferred and why, for the user and the YAML

    def yaml(self, comments: list[str] = ()) -> str:
        head = "".join(f"# {line}\n" for line in [*comments, *self.notes])
        return head + yaml.safe_dump(self.doc, sort_keys=False, allow_unicode=True, width=110)


def default_methods(preset: str = "default") -> list[str]:
    """The preset's methods that are registered now: the classic ones, the references, fast generators."""
    known = registry.available()
    return [m for m in (*CLASSIC, *REFERENCES, *PRESETS[preset][2]) if m in known]


def prepare(path: Path | None, target: str, *, openml: int | None = None, minority: str | None = None,
            group: str | None = None, group_values: list[str] | None = None, group_threshold: float | None = None,
            group_aware: bool = False, methods: list[str] | None = None, classifiers: list[str] | None = None,
            preset: str = "default", folds: int | None = None, repeats: int | None = None, seed: int = 0,
            drop: list[str] = (), keep: list[str] = (), name: str | None = None, timeout: float | None = None,
            data_dir: Path | None = None) -> Prepared:
    """Check the table and the options and declare the comparison; nothing is written. Raises CompareError."""
    if preset not in PRESETS:
        raise CompareError(f"unknown preset {preset!r}; choose {', '.join(PRESETS)}")
    folds, repeats = folds or PRESETS[preset][0], repeats or PRESETS[preset][1]
    if folds < 2 or repeats < 1:
        raise CompareError(f"need at least 2 folds and 1 repeat, got {folds} folds and {repeats} repeats")
    spec, src = _source(path, openml, target, name)
    try:
        frame, nominal, _ = read_raw(spec, data_dir)
    except DatasetError as e:
        how = "is it a table?" if path else "offline? OpenML needs the network or its cache"
        raise CompareError(f"cannot read {src}: {e}; {how}") from e
    if frame.shape[1] < 2:
        raise CompareError(f"{src} reads as {frame.shape[1]} column(s) {list(frame.columns)}; a table needs a "
                           f"target and features (separator used: {spec.read.get('sep', ',')!r})")
    if frame.empty:
        raise CompareError(f"{src} has no rows, only a header")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    _column(target, columns, "target", src)
    for c in [*drop, *keep]:
        _column(c, columns, "column given to --drop/--keep", src)
    notes: list[str] = []
    labels, counts, chosen = _minority(frame[target], target, minority, src, notes)
    group_spec = _group(frame, nominal, group, group_values, group_threshold, target, columns, src, spec.name)
    dropped = {c: "--drop" for c in drop}
    for c in columns:
        if c in (target, group) or c in keep or c in dropped:
            continue
        why = _why_drop(c, frame[c], clean_column(frame[c], c in nominal))
        if why:
            dropped[c] = why
    if len(dropped) >= len(columns) - 1:
        raise CompareError(f"no feature left in {src}: every column but the target is left out "
                           f"({'; '.join(f'{c}: {w}' for c, w in dropped.items())}); --keep COLUMN keeps one")
    notes += [f"left out column {c!r}: {why} (keep it with --keep {c})"
              for c, why in dropped.items() if why != "--drop"]
    n_min = int(minority_mask(labels, chosen).sum())
    if n_min < folds:
        raise CompareError(f"the minority class {chosen!r} has {n_min} rows, fewer than the {folds} folds (each "
                           f"test fold needs one); use --folds {max(2, n_min)} or more data" if n_min >= 2 else
                           f"the minority class {chosen!r} has {n_min} row(s): too few to compare anything")
    if n_min * (folds - 1) / folds < 6:
        notes.append(f"the minority class has {n_min} rows, so a training fold holds fewer than 6: SMOTE-like "
                     "methods (k_neighbors=5) will record errors on those folds")
    spec = dataclasses.replace(spec, minority=chosen, drop=tuple(dropped), group=group_spec)
    _check_load(spec, data_dir, src)
    methods = _methods(methods, preset)
    classifiers = _classifiers(classifiers or ["xgboost"])
    doc = {
        "name": f"compare-{spec.name}",
        "description": f"bench compare: which oversampling method for {spec.name}?",
        "datasets": [_spec_doc(spec)],
        "methods": methods,
        "classifiers": classifiers,
        "seeds": [seed],
        "folds": folds,
        "repeats": repeats,
        "group_aware": bool(group_aware and group_spec),
        "budget": {"cell_timeout_s": float(timeout or 900), "cell_memory_gb": 8.0},
    }
    return Prepared(spec, doc, counts, notes)


def labels_series(col: pd.Series) -> pd.Series:
    """The target's labels as the loader compares them (cleaned text, or numbers), missing ones dropped."""
    t = col if pd.api.types.is_numeric_dtype(col) else clean_column(col, True).astype(object)
    return t[t.notna()]


# -- the source ------------------------------------------------------------------------------------------------
def _source(path: Path | None, openml: int | None, target: str, name: str | None) -> tuple[DatasetSpec, str]:
    if (path is None) == (openml is None):
        raise CompareError("give a table file or --openml ID" + (", not both" if path else ""))
    if openml is not None:
        spec = DatasetSpec(dataset_name(None, openml, name), openml, target, "?", (), "arff")
        return spec, f"OpenML dataset {openml}"
    path = Path(path).expanduser()
    if not path.exists():
        raise CompareError(f"{path}: no such file")
    if not path.is_file():
        raise CompareError(f"{path} is a directory; give a table file (.csv, .tsv, .parquet or .arff)")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CompareError(f"{path} is not a table file bench compare reads: its suffix {path.suffix!r} is not "
                           f"one of {', '.join(FORMATS)} (save it as CSV or Parquet)")
    if path.stat().st_size == 0:
        raise CompareError(f"{path} is empty (0 bytes)")
    read = _csv_options(path) if fmt == "csv" else {}
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    files = (FileSpec(str(path.resolve()), sha),)
    spec = DatasetSpec(dataset_name(path, None, name), None, target, "?", files, fmt, read)
    return spec, str(path)


def dataset_name(path: Path | None, openml: int | None, name: str | None = None) -> str:
    """The dataset's name (the suite's is ``compare-<name>``): ``name``, else the file's stem, else openml-ID."""
    if name:
        return name
    if path is None:
        return f"openml-{openml}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).stem).strip("-.") or "data"


def _csv_options(path: Path) -> dict[str, Any]:
    """The separator (sniffed among , ; tab |) and, when the text is not UTF-8, latin-1."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if b"\0" in head:
        raise CompareError(f"{path} is not a text table: it holds binary data")
    read: dict[str, Any] = {}
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head)  # a character cut at the end is not an error
    except UnicodeDecodeError:
        text, read["encoding"] = head.decode("latin-1"), "latin-1"
    lines = "\n".join(text.splitlines()[:50])
    try:
        sep = csv.Sniffer().sniff(lines, delimiters=",;\t|").delimiter
    except csv.Error:  # one column, or nothing to tell: the format's usual separator
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    if sep != ",":
        read["sep"] = sep
    first = next(csv.reader(lines.splitlines()[:1], delimiter=sep), [])
    if first and all(_is_number(x) for x in first):  # a first line of numbers is data, not column names
        read["header"], read["names"] = False, [f"column_{i + 1}" for i in range(len(first))]
    return read


def _is_number(text: str) -> bool:
    try:
        float(text.strip().strip("'\""))
        return True
    except ValueError:
        return False


def _column(name: str, columns: list[str], what: str, src: str) -> None:
    if name in columns:
        return
    same = [c for c in columns if c.strip().casefold() == name.strip().casefold()]
    hint = f" Did you mean {same[0]!r}?" if same else registry.did_you_mean(name, columns)
    shown = ", ".join(columns[:40]) + (f", ... ({len(columns)} in all)" if len(columns) > 40 else "")
    raise CompareError(f"no column {name!r} ({what}) in {src}.{hint} Columns: {shown}")


# -- the target and the group ------------------------------------------------------------------------------------
def _minority(col: pd.Series, target: str, minority: str | None, src: str,
              notes: list[str]) -> tuple[pd.Series, dict[str, int], str]:
    labels = labels_series(col)
    counts = {str(k): int(v) for k, v in labels.astype(str).value_counts().items()}
    listed = ", ".join(f"{k!r}: {v}" for k, v in list(counts.items())[:10])
    listed += f", ... ({len(counts)} labels)" if len(counts) > 10 else ""
    if not counts:
        raise CompareError(f"target {target!r} in {src} has no values")
    if len(counts) > 20 and minority is None and pd.api.types.is_numeric_dtype(clean_column(col)):
        raise CompareError(f"target {target!r} looks continuous ({len(counts)} different numbers: {listed}); "
                           "compare needs a class label: pick the label column, or one class with --minority")
    if len(counts) == 1:
        raise CompareError(f"target {target!r} has one class only ({listed} rows); a comparison needs two")
    folded: dict[str, list[str]] = {}
    for k in counts:
        folded.setdefault(k.casefold(), []).append(k)
    clash = [v for v in folded.values() if len(v) > 1]
    if clash:
        raise CompareError(f"target {target!r} has labels that differ only in case: "
                           + "; ".join(" vs ".join(f"{k!r} ({counts[k]} rows)" for k in v) for v in clash)
                           + ". They would count as different classes; spell them alike in the file")
    if minority is None:
        if len(counts) > 2:
            raise CompareError(f"target {target!r} has {len(counts)} classes ({listed}); name the minority class "
                               "with --minority LABEL: the comparison is then one-vs-rest (that class against all "
                               "the others together)")
        (a, na), (b, nb) = counts.items()
        if na == nb:
            raise CompareError(f"target {target!r} has two classes of {na} rows each ({listed}); say which one is "
                               "the minority with --minority LABEL")
        notes.append(f"minority class: {b!r} ({nb} rows) against {a!r} ({na} rows); --minority to choose another")
        return labels, counts, b
    hit = minority_mask(labels, str(minority))
    n_pos, n = int(hit.sum()), len(labels)
    if n_pos == 0:
        near = [k for k in counts if k.strip().casefold() == str(minority).strip().casefold()]
        hint = f" Did you mean {near[0]!r}? Labels are compared exactly." if near else ""
        raise CompareError(f"--minority {minority!r} never occurs in {target!r}.{hint} Labels: {listed}")
    if n_pos > n - n_pos:
        raise CompareError(f"--minority {minority!r} is the majority ({n_pos} of {n} rows); labels: {listed}")
    if len(counts) > 2:
        notes.append(f"one-vs-rest: {minority!r} ({n_pos} rows) against the other {len(counts) - 1} classes "
                     f"together ({n - n_pos} rows)")
    return labels, counts, str(minority)


def _group(frame: pd.DataFrame, nominal: set[str], group: str | None, values: list[str] | None,
           threshold: float | None, target: str, columns: list[str], src: str, dataset: str) -> GroupSpec | None:
    if group is None:
        if values or threshold is not None:
            raise CompareError("--group-values / --group-threshold need --group COLUMN")
        return None
    _column(group, columns, "group", src)
    if group == target:
        raise CompareError(f"the group column {group!r} is the target; give another column")
    if values and threshold is not None:
        raise CompareError("give --group-values or --group-threshold, not both")
    col = clean_column(frame[group], group in nominal)
    levels = col.value_counts()
    if not values and threshold is None and len(levels) != 2:
        shown = ", ".join(f"{k!r}: {v}" for k, v in list(levels.items())[:8])
        shown += ", ..." if len(levels) > 8 else ""
        how = f"--group-values {levels.index[0]} (those rows against the rest; several: --group-values a,b)"
        if pd.api.types.is_float_dtype(col):
            how += f", or --group-threshold {col.median():g} (<= against >, here the median)"
        raise CompareError(f"group column {group!r} has {len(levels)} values ({shown}); the group metrics need "
                           f"two groups: binarise it with {how}")
    spec = GroupSpec(group, tuple(values) if values else None, threshold)
    try:
        spec.apply(col, dataset)
    except DatasetError as e:
        raise CompareError(str(e)) from e
    return spec


# -- columns ------------------------------------------------------------------------------------------------------
def _why_drop(name: str, raw: pd.Series, typed: pd.Series) -> str | None:
    """Why a column should not be a feature (empty, constant, date-like, ID-like), or None."""
    present = typed.dropna()
    if present.empty:
        return "every value is missing"
    levels = present.nunique()
    if levels == 1:
        value = present.iloc[0]
        return f"constant (always {value!r})" if isinstance(value, str) else f"constant (always {value:g})"
    if pd.api.types.is_datetime64_any_dtype(raw):
        return "a date/time column; derive numbers from it (year, month, days since) in the file if it matters"
    if isinstance(typed.dtype, pd.CategoricalDtype):
        sample = [str(v) for v in present.unique()[:200]]
        if sum(bool(_DATE.match(v.strip())) for v in sample) >= 0.9 * len(sample):
            return (f"date-like (e.g. {sample[0]!r}): as categories, dates never recur in new data; derive "
                    "numbers from it (year, month, days since) in the file if it matters")
        if levels == len(present) and levels >= 10:
            return f"ID-like: a different value in every row ({levels} values)"
        if levels > max(50, len(present) // 2):
            return f"ID-like or free text: {levels} distinct values in {len(present)} rows"
        return None
    if levels == len(present) == len(typed) and bool((present == present.round()).all()):
        if present.max() - present.min() == len(present) - 1:
            return "ID-like: consecutive whole numbers, one per row (a row number)"
        if _ID_NAME.search(name):
            return "ID-like: a different whole number in every row, and an ID-like name"
    return None


def _check_load(spec: DatasetSpec, data_dir: Path | None, src: str) -> None:
    """Load the declaration exactly as every cell will, so that what passed here also runs."""
    from bench.data import load_dataset

    try:
        load_dataset(spec, data_dir)
    except DatasetError as e:
        raise CompareError(f"{src}: {e}") from e


def _methods(methods: list[str] | None, preset: str) -> list[str]:
    names = [m.strip() for entry in (methods or []) for m in entry.split(",") if m.strip()]
    names = names or default_methods(preset)
    for m in names:
        try:
            registry.resolve(m)
        except registry.UnknownMethodError as e:
            raise CompareError(str(e)) from e
    return list(dict.fromkeys(names))


def _classifiers(names: list[str]) -> list[str]:
    from bench.classifiers import CLASSIFIERS

    names = [c.strip() for entry in names for c in entry.split(",") if c.strip()]
    for c in names:
        if c not in CLASSIFIERS:
            raise CompareError(f"unknown classifier {c!r}.{registry.did_you_mean(c, list(CLASSIFIERS))} "
                               f"Known: {', '.join(CLASSIFIERS)}")
    return list(dict.fromkeys(names))


def _spec_doc(spec: DatasetSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": spec.name, "openml_id": spec.openml_id, "target": spec.target,
                           "minority": spec.minority, "format": spec.format,
                           "files": [{"path": f.path, "sha256": f.sha256} for f in spec.files]}
    if spec.read:
        doc["read"] = dict(spec.read)
    if spec.drop:
        doc["drop"] = list(spec.drop)
    if spec.group:
        g = spec.group
        doc["group"] = {"column": g.column, **({"values": list(g.values)} if g.values else {}),
                        **({"threshold": g.threshold} if g.threshold is not None else {})}
    return doc
