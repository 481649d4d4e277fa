"""Dataset catalog (YAML) -> verified, parsed, binarised datasets.

Data come from a local mirror of raw files, checksummed so that a changed file is never loaded silently, and
from OpenML when the mirror lacks a dataset. Every problem a user can cause or fix is a ``DatasetError`` whose
message names the dataset, what was tried and how to fix it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("csv", "arff", "keel", "parquet")
DEFAULT_NA = ("?", "")  # '?' is the UCI/ARFF missing marker; empty cells are missing everywhere
MAX_GROUP_MISSING = 0.05  # beyond this, metrics over the two groups describe too few of the rows
# read option -> (type, formats it applies to). Generic options rather than per-dataset code.
READ_OPTIONS: dict[str, tuple[type, tuple[str, ...]]] = {
    "sep": (str, ("csv",)),
    "header": (bool, ("csv",)),  # the first line (after skiprows) holds column names; default true
    "names": (list, ("csv",)),  # column names; replace the header line if there is one
    "skiprows": (int, ("csv",)),  # lines to skip at the top of every file
    "quotechar": (str, ("csv",)),
    "comment": (str, ("csv",)),  # from this character to the line's end is ignored; skips a preamble line
    "strip_label_suffix": (str, FORMATS),  # removed from the end of target values ('>50K.')
    "na_values": (list, FORMATS),  # replaces DEFAULT_NA
    "encoding": (str, FORMATS),
}


class DatasetError(ValueError):
    """A dataset that cannot be declared or loaded; the message says which one, what was tried, how to fix."""


def _check(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise DatasetError(f"{where}: {message}")


def _keys(m: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    _check(isinstance(m, Mapping), where, f"expected a mapping, got {type(m).__name__}")
    missing, unknown = [k for k in required if k not in m], [k for k in m if k not in required + optional]
    _check(not missing, where, f"missing key(s) {missing}")
    _check(not unknown, where, f"unknown key(s) {unknown}; allowed: {sorted(required + optional)}")


def _is(v: Any, kind: type | tuple[type, ...]) -> bool:
    return isinstance(v, kind) and (not isinstance(v, bool) or kind is bool)  # True is an int in Python


def _label(v: Any, where: str, what: str) -> str:
    # YAML reads yes/no/on/off as booleans; labels are compared as text, so insist on quoting.
    _check(_is(v, (str, int, float)), where, f"{what} must be a string or number, got {v!r} (quote yes/no)")
    return str(v)


def _names(v: Any, where: str, what: str) -> tuple[str, ...]:
    _check(isinstance(v, list) and all(isinstance(x, str) for x in v), where, f"{what} must list strings")
    _check(len(set(v)) == len(v), where, f"{what} has repeated names")
    return tuple(v)


@dataclass(frozen=True)
class FileSpec:
    """One mirror file: ``path`` relative to the data dir, its ``sha256`` (of the zip itself for a zip
    ``member``), and the zip ``member`` to read, if any."""

    path: str
    sha256: str
    member: str | None = None

    @classmethod
    def from_mapping(cls, m: Mapping, where: str) -> FileSpec:
        _keys(m, where, ("path", "sha256"), ("member",))
        _check(isinstance(m["path"], str), where, "path must be a string")
        _check(isinstance(m["sha256"], str) and re.fullmatch(r"[0-9a-f]{64}", m["sha256"]) is not None, where,
               f"sha256 must be 64 lowercase hex digits, got {m['sha256']!r}")
        _check(m.get("member") is None or isinstance(m["member"], str), where, "member must be a string")
        return cls(m["path"], m["sha256"], m.get("member"))


@dataclass(frozen=True)
class GroupSpec:
    """How one column becomes a two-valued group attribute; at most one of values/threshold/range.

    Missing values stay missing (NaN) and more than ``MAX_GROUP_MISSING`` of them is an error: a third
    "missing" group would break two-group metrics, and dropping rows would change the dataset.

    Attributes
    ----------
    column : str
        Source column; it stays in ``X`` as a feature.
    values : tuple of str, optional
        In the list -> ``labels[0]``, else ``labels[1]`` (default labels: the values joined, "other").
    threshold : float, optional
        ``value <= threshold`` -> ``labels[0]``, else ``labels[1]`` (default "<=t", ">t").
    range : (float, float), optional
        ``low <= value <= high`` -> ``labels[0]``, else ``labels[1]`` (default "low-high", "other").
    labels : (str, str), optional
        Without any rule the column must have two values, used as they are (or renamed by labels).
    """

    column: str
    values: tuple[str, ...] | None = None
    threshold: float | None = None
    range: tuple[float, float] | None = None
    labels: tuple[str, str] | None = None

    @classmethod
    def from_mapping(cls, m: Mapping, where: str) -> GroupSpec:
        _keys(m, where, ("column",), ("values", "threshold", "range", "labels"))
        rules = [k for k in ("values", "threshold", "range") if k in m]
        _check(len(rules) <= 1, where, f"give at most one of values/threshold/range, got {rules}")
        values, threshold, rng, labels = (m.get(k) for k in ("values", "threshold", "range", "labels"))
        _check(values is None or (isinstance(values, list) and values), where, "values: a non-empty list")
        _check(threshold is None or _is(threshold, (int, float)), where, "threshold must be a number")
        pair = isinstance(rng, list) and len(rng) == 2 and all(_is(x, (int, float)) for x in rng)
        _check(rng is None or pair, where, "range must be [low, high]")
        _check(labels is None or (isinstance(labels, list) and len(labels) == 2 and labels[0] != labels[1]),
               where, "labels must be two different strings")
        return cls(
            column=_label(m["column"], where, "group column"),
            values=tuple(_label(v, where, "group value") for v in values) if values else None,
            threshold=float(threshold) if threshold is not None else None,
            range=(float(rng[0]), float(rng[1])) if rng else None,
            labels=tuple(_label(x, where, "group label") for x in labels) if labels else None,  # type: ignore
        )

    def apply(self, col: pd.Series, dataset: str) -> pd.Series:
        """Binarise ``col`` (float64 or category, as in ``Dataset.X``) of dataset ``dataset``.

        Returns
        -------
        pandas.Series
            Object dtype with the two labels, NaN where ``col`` is missing; same index as ``col``.

        Raises
        ------
        DatasetError
            The rule does not fit the column, gives one group only, or too many values are missing.
        """
        where = f"dataset '{dataset}': group column '{self.column}'"
        present, numeric = col.notna(), pd.api.types.is_float_dtype(col)
        if self.threshold is not None or self.range is not None:
            _check(numeric, where, "threshold/range need a numeric column")
            lo, hi = self.range or (-np.inf, self.threshold)
            first = (col >= lo) & (col <= hi)
            t = self.threshold
            default = (f"<={t:g}", f">{t:g}") if self.range is None else (f"{lo:g}-{hi:g}", "other")
        elif self.values is not None:
            try:  # a numeric column matches numerically: values [2] selects 2.0
                first = col.isin([float(v) for v in self.values] if numeric else self.values)
            except ValueError:
                raise DatasetError(f"{where}: is numeric but values {self.values} are not numbers") from None
            default = ("/".join(self.values), "other")
        else:
            levels = sorted(col.dropna().unique(), key=str)
            _check(len(levels) == 2, where, f"{len(levels)} levels {levels[:9]}: give values/threshold/range")
            first, default = col == levels[0], (str(levels[0]), str(levels[1]))
        labels = self.labels or default
        out = pd.Series(np.where(first, labels[0], labels[1]), index=col.index, dtype=object).where(present)
        share = 1 - present.mean()
        _check(share <= MAX_GROUP_MISSING, where, f"{share:.1%} missing (max {MAX_GROUP_MISSING:.0%})")
        _check(out.nunique() == 2, where, f"gives only {sorted(out.dropna().unique())}; adjust the rule")
        return out


@dataclass(frozen=True)
class DatasetSpec:
    """A catalog entry: where the data are, how to parse them, which label is the minority, the group rule.

    Attributes
    ----------
    openml_id : int or None
        Source used when the mirror files are missing.
    minority : str
        Positive label after cleaning; compared as text, or as numbers when the label and all target values
        are numbers ("0" matches 0.0).
    files : tuple of FileSpec
        Mirror files; several are concatenated row-wise.
    read : dict
        Parsing options, see ``READ_OPTIONS``.
    features, drop : tuple of str
        Keep only ``features`` (default: all but the target), then remove ``drop``.
    description : str
        What a row is, in plain words (read by LLM-based methods).
    """

    name: str
    openml_id: int | None
    target: str
    minority: str
    files: tuple[FileSpec, ...]
    format: str
    read: dict[str, Any] = field(default_factory=dict, hash=False)  # hash=False: a dict is unhashable
    group: GroupSpec | None = None
    features: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    description: str = ""
    # Fixed splits instead of cross-validation (bench/splits.py): per-seed train/test file path templates
    # with "{seed}", e.g. {"seeds": [1, 2], "train": "t/train_{seed}.csv", "test": "t/test_{seed}.csv"}.
    splits: dict[str, Any] = field(default_factory=dict, hash=False)
    # Rows generated elsewhere for this dataset (a `precomputed` method reads them): name -> path template.
    synthetic: dict[str, str] = field(default_factory=dict, hash=False)
    # sha256 of every split and synthetic file, by path relative to the data dir (all are verified).
    checksums: dict[str, str] = field(default_factory=dict, hash=False)
    # Columns the methods see but the classifiers do not (the OPAL protocol oversamples on all columns).
    classifier_drop: tuple[str, ...] = ()
    # Per-dataset classifier settings, merged over the suite's (a protocol may tune them per dataset).
    classifier_params: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)

    @classmethod
    def from_mapping(cls, m: Mapping, where: str) -> DatasetSpec:
        """Validate mapping ``m`` (keys as the attributes; ``files`` a list and ``group`` a mapping).

        Raises
        ------
        DatasetError
            Starting with ``where`` (e.g. ``"datasets/imbalanced.yaml: dataset 'adult'"``) and naming the
            unknown, missing or mistyped key.
        """
        _keys(m, where, ("name", "target", "minority", "format"),
              ("files", "openml_id", "read", "group", "features", "drop", "description", "splits", "synthetic",
               "checksums", "classifier_drop", "classifier_params"))
        splits, synthetic, checksums = (dict(m.get(k) or {}) for k in ("splits", "synthetic", "checksums"))
        _check("files" in m or splits, where, "give files, or splits for fixed train/test files")
        if splits:
            _keys(splits, f"{where}: splits", ("seeds", "train", "test"), ())
            _check(isinstance(splits["seeds"], list) and all(_is(x, int) for x in splits["seeds"]), where,
                   "splits.seeds must list integers")
            _check(all("{seed}" in splits[k] for k in ("train", "test")), where, "split paths need '{seed}'")
            splits["seeds"] = tuple(splits["seeds"])
        for name, path in synthetic.items():
            _check(isinstance(path, str) and "{seed}" in path, where, f"synthetic.{name} must be a path with '{{seed}}'")
        _check(isinstance(m["name"], str) and m["name"] != "", where, "name must be a non-empty string")
        oid = m.get("openml_id")
        _check(oid is None or _is(oid, int), where, f"openml_id must be an integer or null, got {oid!r}")
        _check(m["format"] in FORMATS, where, f"format must be one of {FORMATS}, got {m['format']!r}")
        _check(isinstance(m.get("files", []), list), where, "files must be a list of {path, sha256[, member]}")
        files = tuple(FileSpec.from_mapping(f, f"{where}: files[{i}]") for i, f in enumerate(m.get("files", [])))
        read = dict(m.get("read") or {})
        for key, value in read.items():
            _check(key in READ_OPTIONS, where, f"unknown read option {key!r}; known: {sorted(READ_OPTIONS)}")
            kind, formats = READ_OPTIONS[key]
            _check(_is(value, kind), where, f"read option {key!r} must be {kind.__name__}, got {value!r}")
            _check(m["format"] in formats, where, f"read option {key!r} does not apply to {m['format']}")
            if kind is list:
                read[key] = list(_names(value, where, f"read.{key}"))
        _check(m["format"] != "csv" or read.get("header", True) or "names" in read, where,
               "a csv without header needs read.names")
        _check(isinstance(m.get("description", ""), str), where, "description must be a string")
        group = m.get("group")
        return cls(
            name=m["name"], openml_id=oid, target=_label(m["target"], where, "target"),
            minority=_label(m["minority"], where, "minority"), files=files, format=m["format"], read=read,
            group=GroupSpec.from_mapping(group, f"{where}: group") if group is not None else None,
            features=_names(m["features"], where, "features") if m.get("features") is not None else None,
            drop=_names(m.get("drop") or [], where, "drop"), description=m.get("description", "").strip(),
            splits=splits, synthetic=synthetic, checksums=checksums,
            classifier_drop=_names(m.get("classifier_drop") or [], where, "classifier_drop"),
            classifier_params={k: dict(v) for k, v in (m.get("classifier_params") or {}).items()},
        )


def load_catalog(path: Path) -> dict[str, DatasetSpec]:
    """Read a catalog YAML (``datasets:``, a list of dataset mappings; optional ``name``, ``description``).

    Returns
    -------
    dict of str to DatasetSpec
        Keyed by dataset name, in file order.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise DatasetError(f"{path}: cannot read catalog: {e}") from e
    # A catalog may also be a runnable suite (bench/config.py reads the suite keys).
    _keys(doc, str(path), ("datasets",), ("name", "description", "catalog", "methods", "classifiers", "seeds",
                                          "folds", "repeats", "group_aware", "budget", "augmentation"))
    _check(isinstance(doc["datasets"], list), str(path), "datasets must be a list")
    specs: dict[str, DatasetSpec] = {}
    for i, entry in enumerate(doc["datasets"]):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        where = f"{path}: dataset '{name}'" if name else f"{path}: datasets[{i}]"
        spec = DatasetSpec.from_mapping(entry, where)
        _check(spec.name not in specs, str(path), f"dataset '{spec.name}' is declared twice")
        specs[spec.name] = spec
    return specs


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset.

    Attributes
    ----------
    X : pandas.DataFrame
        Features only: float64 or category (string categories) columns; NaN where missing.
    y : pandas.Series
        int64, 1 = minority label; named after the target column.
    group : pandas.Series or None
        Binarised group attribute (string labels, NaN where missing), same index as ``X``.
    sha256 : str
        sha256 over the mirror files' checksums in order, or of OpenML's cached data file.
    source : {"mirror", "openml"}
    """

    name: str
    X: pd.DataFrame = field(repr=False)
    y: pd.Series = field(repr=False)
    group: pd.Series | None = field(repr=False)
    sha256: str
    source: str
    spec: DatasetSpec = field(repr=False)


def default_data_dir() -> Path:
    """``$BENCH_DATA_DIR`` if set, else the shared mirror beside the repo: ``<repo>/../shared/datasets``."""
    env = os.environ.get("BENCH_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "datasets"


def load_dataset(spec: DatasetSpec, data_dir: Path | None = None) -> Dataset:
    """Load ``spec`` from the mirror under ``data_dir`` (default ``default_data_dir()``), else from OpenML.

    Raises
    ------
    DatasetError
        A mirror file fails its checksum or does not parse; files are missing and OpenML fails or there is
        no ``openml_id``; the target, features or group do not fit the data; the minority label is absent,
        is the only label, or is not the minority.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    missing = [f.path for f in spec.files if not (data_dir / f.path).is_file()]
    if spec.files and not missing:
        frame, nominal, sha = _read_mirror(spec, data_dir)
        return _build(spec, frame, nominal, sha, "mirror")
    missing_text = f"mirror files missing under {data_dir}: {missing or 'no files declared'}"
    fix = "fix: set BENCH_DATA_DIR (or --data-dir) to a directory holding them (a copy of shared/datasets)"
    if spec.openml_id is None:
        raise DatasetError(f"dataset '{spec.name}': {missing_text}; no openml_id to fall back on; {fix}")
    try:
        frame, nominal, sha = _read_openml(spec)
    except DatasetError as e:
        raise DatasetError(f"dataset '{spec.name}': {missing_text}; {e}; {fix}, or go online") from e
    return _build(spec, frame, nominal, sha, "openml")


def read_raw(spec: DatasetSpec, data_dir: Path | None = None) -> tuple[pd.DataFrame, set[str], str]:
    """The table of ``spec`` as read, before typing and binarising, for a tool that inspects a table before
    declaring it (``bench compare``): the frame, the columns its format declares nominal, the checksum.

    Mirror files when ``spec`` has them (checksums verified), else OpenML by ``openml_id`` (through its cache).

    Raises
    ------
    DatasetError
        As ``load_dataset``, for the reading part.
    """
    if spec.files:
        return _read_mirror(spec, Path(data_dir) if data_dir is not None else default_data_dir())
    _check(spec.openml_id is not None, f"dataset '{spec.name}'", "no files and no openml_id")
    return _read_openml(spec)


def clean_column(col: pd.Series, nominal: bool = False,
                 na_values: tuple[str, ...] | list[str] = DEFAULT_NA) -> pd.Series:
    """A raw column typed as ``load_dataset`` types features: float64 if numeric, else category."""
    return _clean_column(col, nominal, list(na_values))


def minority_mask(target: pd.Series, minority: str) -> pd.Series:
    """Rows whose label is ``minority``, compared as ``load_dataset`` compares them (as text, or as numbers)."""
    return _minority_mask(target, minority)


# -- reading: readers return the raw frame, the columns declared nominal, and the data checksum --------------
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_mirror(spec: DatasetSpec, data_dir: Path) -> tuple[pd.DataFrame, set[str], str]:
    where, frames, nominal = f"dataset '{spec.name}'", [], set()
    for f in spec.files:
        path = data_dir / f.path
        actual = _sha256(path)
        _check(actual == f.sha256, where, f"checksum mismatch for {path}: expected {f.sha256}, got {actual}; "
               "the file changed or is corrupt: restore it from the mirror (or update the catalog if meant)")
        try:
            if spec.format == "parquet":  # binary and typed: read from the file itself
                frame, nom = _parse_parquet(path, f.member, where)
            else:
                text = _open_text(path, f.member, spec.read.get("encoding", "utf-8"), where)
                frame, nom = _PARSERS[spec.format](text, spec)
        except DatasetError:
            raise
        except Exception as e:  # a parser's own error, reworded to say which file of which dataset
            raise DatasetError(f"{where}: cannot parse {path} as {spec.format}: {e!r}") from e
        _check(not frames or list(frame.columns) == list(frames[0].columns), where,
               f"{path} has other columns than {spec.files[0].path}")
        frames.append(frame)
        nominal |= nom
    checksum = hashlib.sha256("".join(f.sha256 + "\n" for f in spec.files).encode()).hexdigest()
    return pd.concat(frames, ignore_index=True), nominal, checksum


def _open_text(path: Path, member: str | None, encoding: str, where: str) -> io.StringIO:
    if member is None:
        return io.StringIO(path.read_text(encoding=encoding))
    with zipfile.ZipFile(path) as zf:
        _check(member in zf.namelist(), where, f"{path} has no member {member!r}; members: {zf.namelist()}")
        return io.StringIO(zf.read(member).decode(encoding))


def _parse_csv(text: io.StringIO, spec: DatasetSpec) -> tuple[pd.DataFrame, set[str]]:
    r = spec.read
    header, names = r.get("header", True), r.get("names")
    # All cells are read as text and typed later, so '0.0' labels and b'..' cells arrive as written.
    frame = pd.read_csv(
        text, sep=r.get("sep", ","), quotechar=r.get("quotechar", '"'), comment=r.get("comment"),
        skiprows=r.get("skiprows", 0) + bool(header and names), header=0 if header and not names else None,
        dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True, index_col=False,
    )
    if names:
        _check(frame.shape[1] == len(names), f"dataset '{spec.name}'",
               f"read.names lists {len(names)} columns but the file has {frame.shape[1]}")
        frame.columns = names
    return frame, set()


def _parse_arff(text: io.StringIO, spec: DatasetSpec) -> tuple[pd.DataFrame, set[str]]:
    import arff  # liac-arff

    doc = arff.load(text)
    nominal = {name for name, kind in doc["attributes"] if isinstance(kind, list)}
    return pd.DataFrame(doc["data"], columns=[a[0] for a in doc["attributes"]]), nominal


_KEEL_ATTRIBUTE = re.compile(r"@attribute\s+('[^']*'|\"[^\"]*\"|\S+)\s*(.*)", re.IGNORECASE)


def _parse_keel(text: io.StringIO, spec: DatasetSpec) -> tuple[pd.DataFrame, set[str]]:
    # KEEL headers look like ARFF but add ranges ("real [0.1, 1.0]") that liac-arff rejects, so the header is
    # read here for names and nominal-ness only, and the data section as plain comma-separated text.
    where, names, nominal = f"dataset '{spec.name}'", [], set()
    lines = text.getvalue().splitlines()
    for i, line in enumerate(lines):
        s = line.strip()
        if s.lower().startswith("@attribute"):
            m = _KEEL_ATTRIBUTE.match(s)
            _check(m is not None, where, f"bad KEEL header line {i + 1}: {s!r}")
            names.append(m.group(1).strip("'\""))
            if m.group(2).startswith("{"):
                nominal.add(names[-1])
        elif s.lower().startswith("@data"):
            body = "\n".join(x for x in lines[i + 1:] if x.strip() and not x.lstrip().startswith("%"))
            frame = pd.read_csv(io.StringIO(body), header=None, dtype=str, keep_default_na=False,
                                na_filter=False, skipinitialspace=True, index_col=False)
            _check(frame.shape[1] == len(names), where,
                   f"KEEL header declares {len(names)} attributes but rows have {frame.shape[1]} fields")
            frame.columns = names
            return frame, nominal
    raise DatasetError(f"{where}: KEEL file has no @data line")


def _parse_parquet(path: Path, member: str | None, where: str) -> tuple[pd.DataFrame, set[str]]:
    # Parquet keeps its types: categorical and boolean columns are nominal as declared; text columns are typed
    # like CSV cells (numbers written as text become numbers).
    if member is None:
        frame = pd.read_parquet(path)
    else:
        with zipfile.ZipFile(path) as zf:
            _check(member in zf.namelist(), where, f"{path} has no member {member!r}; members: {zf.namelist()}")
            frame = pd.read_parquet(io.BytesIO(zf.read(member)))
    nominal = {c for c in frame.columns
               if isinstance(frame[c].dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(frame[c])}
    for c in nominal:  # as text, as a CSV would give them: a True/False target then matches minority "True"
        frame[c] = frame[c].astype(object).where(frame[c].notna(), None).map(lambda v: v if v is None else str(v))
    return frame.reset_index(drop=True), nominal


_PARSERS = {"csv": _parse_csv, "arff": _parse_arff, "keel": _parse_keel}


def _read_openml(spec: DatasetSpec) -> tuple[pd.DataFrame, set[str], str]:
    cache = Path(os.environ.get("BENCH_OPENML_CACHE") or REPO_ROOT / "results" / "openml-cache")
    try:
        import openml
    except ImportError as e:
        raise DatasetError(f"OpenML fallback needs openml-python: {e}") from e
    # openml's config is module-global: set it for this call only. One retry: the default 5 with back-off
    # take ~10 s to report what is usually "no network".
    saved = openml.config.get_config_as_dict()
    openml.config.set_root_cache_directory(cache)
    openml.config.server = os.environ.get("BENCH_OPENML_SERVER") or saved["server"]
    openml.config.connection_n_retries = 2
    try:
        ds = openml.datasets.get_dataset(spec.openml_id, download_data=True, download_qualities=False,
                                         download_features_meta_data=False)
        frame, _, categorical, names = ds.get_data(dataset_format="dataframe")
        data_file = ds.data_file or ds.parquet_file
    except Exception as e:  # anything openml raises (network, server, cache, parse) is the same failure here
        raise DatasetError(f"OpenML id {spec.openml_id} from {openml.config.server} (cache {cache}) failed: "
                           f"{type(e).__name__}: {e}") from e
    finally:
        openml.config.server = saved["server"]
        openml.config.set_root_cache_directory(saved["cachedir"])
        openml.config.connection_n_retries = saved["connection_n_retries"]
    if data_file and Path(data_file).is_file():
        checksum = _sha256(Path(data_file))
    else:  # no cached file to point at: identify the data by their content
        checksum = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).values.tobytes()).hexdigest()
    return frame, {n for n, c in zip(names, categorical) if c}, checksum


# -- cleaning and typing -----------------------------------------------------------------------------------
def _clean_column(col: pd.Series, nominal: bool, na_values: list[str]) -> pd.Series:
    """float64 if numeric (declared, or every present value parses), else category with string categories.

    Text is cleaned once per distinct value (columns repeat few values): whitespace and b'..' wrappers are
    stripped and NA markers become NaN. A column whose every value is b'..' counts as nominal, because
    scipy.io.arff exports write exactly the nominal attributes as bytes reprs (b'1' is a code, not a number).
    """
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) and not nominal:
        return col.astype("float64")
    codes, uniques = pd.factorize(col.astype(object))  # code -1 = missing
    na, cleaned, wrapped = set(na_values), [], []
    for u in uniques:
        s = str(u).strip()
        w = len(s) >= 3 and s[0] == "b" and s[1] in "'\"" and s[-1] == s[1]
        s = s[2:-1].strip() if w else s
        wrapped.append(w)
        cleaned.append(None if s in na else s)
    if not (nominal or (wrapped and all(wrapped))):
        try:  # the appended NaN is what code -1 picks
            numbers = np.array([np.nan if c is None else float(c) for c in cleaned] + [np.nan], dtype=float)
            return pd.Series(numbers[codes], index=col.index, dtype="float64")
        except ValueError:  # some value is not a number: categorical
            pass
    categories = sorted({c for c in cleaned if c is not None})
    position = {c: i for i, c in enumerate(categories)}
    lookup = np.array([-1 if c is None else position[c] for c in cleaned] + [-1], dtype="int64")
    return pd.Series(pd.Categorical.from_codes(lookup[codes], categories=categories), index=col.index)


def _minority_mask(target: pd.Series, minority: str) -> pd.Series:
    """Rows with the minority label: equal as text, or equal as numbers when both sides are numbers."""
    hit = target.astype(object) == minority
    try:
        value = float(minority)
    except ValueError:
        return hit
    number = pd.to_numeric(target, errors="coerce")
    return number == value if bool((number.notna() == target.notna()).all()) else hit


def _build(spec: DatasetSpec, frame: pd.DataFrame, nominal: set[str], sha: str, source: str,
           check_minority: bool = True) -> Dataset:
    where, columns = f"dataset '{spec.name}' ({source})", list(frame.columns)
    _check(spec.target in columns, where, f"target column '{spec.target}' not found; columns: {columns}")
    na_values = spec.read.get("na_values", list(DEFAULT_NA))

    target = frame[spec.target]
    if not pd.api.types.is_numeric_dtype(target):
        target = _clean_column(target, True, na_values).astype(object)
        if suffix := spec.read.get("strip_label_suffix"):
            target = target.where(target.isna(), target.astype(str).str.removesuffix(suffix))
    keep = target.notna().to_numpy()  # rows without a label cannot be used
    frame, target = frame.loc[keep].reset_index(drop=True), target[keep].reset_index(drop=True)
    hit = _minority_mask(target, spec.minority)
    labels, n_pos, n_neg = sorted(map(str, target.unique())), int(hit.sum()), int((~hit).sum())
    _check(n_pos > 0, where, f"minority label {spec.minority!r} never occurs in {spec.target!r}: {labels}")
    _check(n_neg > 0, where, f"only one class ({spec.minority!r}) in '{spec.target}'; need two")
    # A label coded differently by another source (e.g. 1/2 vs 0/1 on OpenML) must not silently invert y.
    _check(n_pos <= n_neg or not check_minority, where, f"label {spec.minority!r} is the majority ({n_pos} of {n_pos + n_neg} "
           f"rows); check `minority` (labels: {labels})")
    y = pd.Series(hit.to_numpy().astype("int64"), name=spec.target)

    features = list(spec.features) if spec.features is not None else [c for c in columns if c != spec.target]
    absent = [c for c in features + list(spec.drop) if c not in columns]
    _check(not absent, where, f"features/drop name columns not in the data: {absent}; columns: {columns}")
    X = pd.DataFrame({c: _clean_column(frame[c], c in nominal, na_values)
                      for c in features if c not in spec.drop and c != spec.target})

    group = None
    if spec.group is not None:
        g = spec.group.column
        _check(g in columns, where, f"group column '{g}' not found; columns: {columns}")
        col = X[g] if g in X else _clean_column(frame[g], g in nominal, na_values)
        group = spec.group.apply(col, spec.name)
    return Dataset(spec.name, X, y, group, sha, source, spec)
