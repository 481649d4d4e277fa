"""Reading a dataset's raw table: from the checksummed mirror files (CSV, ARFF, KEEL, Parquet, optionally inside
a zip) or from OpenML. A reader returns the raw frame, the columns its format declares nominal, and a checksum
of the data; typing and binarising happen in ``bench.data``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from bench.catalog import DatasetSpec


class DatasetError(ValueError):
    """A dataset that cannot be declared or loaded; the message says which one, what was tried, how to fix."""


def _check(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise DatasetError(f"{where}: {message}")


# -- reading: readers return the raw frame, the columns declared nominal, and the data checksum --------------
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_mirror(spec: DatasetSpec, data_dir: Path) -> tuple[pd.DataFrame, set[str], str]:
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


def read_openml(spec: DatasetSpec) -> tuple[pd.DataFrame, set[str], str]:
    cache = Path(os.environ.get("BENCH_OPENML_CACHE") or Path(__file__).resolve().parent.parent / "results" / "openml-cache")
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
