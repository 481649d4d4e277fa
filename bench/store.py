"""The results store: one SQLite file (WAL), one row per cell, written only by the driver.

Each cell is committed on its own as it finishes, so a Ctrl-C or a kill loses at most the cells still running;
SQLite's journal guarantees that a half-written row is never read back.

A store's rows can be exported as JSON lines (one row a line, exactly as stored) and merged into another store,
so a sweep can be carried between machines, or split across them and put back together (`bench export`,
`bench merge`).
"""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

import pandas as pd

import bench

SCHEMA_VERSION = 1
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "results" / "bench.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,
    suite TEXT NOT NULL,
    dataset TEXT NOT NULL,
    method TEXT NOT NULL,          -- the label shown on leaderboards
    method_name TEXT NOT NULL,     -- the registry name
    method_params TEXT NOT NULL,   -- JSON
    group_aware INTEGER NOT NULL,
    classifier TEXT NOT NULL,
    classifier_params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    fold INTEGER NOT NULL,
    step REAL,                     -- augmentation sweep step (NULL outside sweeps)
    status TEXT NOT NULL,          -- ok | error | timeout | oom | crashed
    failure TEXT,                  -- why a cell did not succeed (exception, timeout, ...)
    metrics TEXT NOT NULL,         -- JSON: metric name -> value
    seconds REAL NOT NULL,         -- the whole cell, as the worker saw it
    dataset_sha256 TEXT,
    version TEXT NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cells_suite ON cells(suite);
"""


_ORDER = [line.split()[0] for line in _SCHEMA.splitlines() if line.startswith("    ")]
_COLUMNS = set(_ORDER)
_SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(RuntimeError):
    pass


def _check_file(path: Path, readonly: bool) -> None:
    """Refuse, before SQLite touches it, a path that cannot be a store: a folder, a file of another kind, or
    (when only reading) nothing at all, so that reading never creates a store."""
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a results store; give a file with --results")
    if not path.exists():
        if readonly:
            raise StoreError(f"no results store at {path}; run `bench run` first, or give the store with --results")
        return
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as e:
        raise StoreError(f"cannot read results store {path}: {e}") from e
    if head and head != _SQLITE_MAGIC:
        raise StoreError(f"{path} is not an oversampling-bench results store (not an SQLite file); "
                         "give another file with --results")


class ResultsStore:
    """Open (or create) the store at ``path``; ``readonly`` opens an existing store without writing to it.

    A file that is not one of our stores (any other file, another program's SQLite database) is refused with a
    ``StoreError``, never written to.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = ResultsStore(pathlib.Path(tempfile.mkdtemp()) / "r.sqlite")
    >>> store.done_keys(["abc"])
    set()
    """

    def __init__(self, path: Path | str = DEFAULT_PATH, timeout: float = 30.0, readonly: bool = False):
        self.path = Path(path)
        _check_file(self.path, readonly)
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout)
            if readonly:
                self.db.execute("PRAGMA query_only=ON")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer oversampling-bench (schema {version}, this one reads "
                    f"{SCHEMA_VERSION}); upgrade, or use another file with --results"
                )
            self._check_ours(version, readonly)
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process kills
                with self.db:
                    self.db.executescript(_SCHEMA)
                    self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as e:  # OperationalError (locked, unreadable) included
            hint = " (another sweep writing to it?)" if "locked" in str(e) else ""
            raise StoreError(f"cannot use results store {self.path}: {e}{hint}") from e

    def _check_ours(self, version: int, readonly: bool) -> None:
        """Refuse an SQLite database that some other program wrote (or one without our table, when reading)."""
        tables = sorted(name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        if not tables and not readonly:
            return  # a new, empty database: ours to set up
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(cells)")}
        if version == 0 or not _COLUMNS <= columns:
            raise StoreError(f"{self.path} is an SQLite database but not an oversampling-bench results store "
                             f"(its tables: {tables or 'none'}); give another file with --results")

    def done_keys(self, keys: list[str], include_failed: bool = True) -> set[str]:
        """The subset of ``keys`` already recorded (only successful ones unless ``include_failed``)."""
        done: set[str] = set()
        cond = "" if include_failed else " AND status = 'ok'"
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            q = f"SELECT key FROM cells WHERE key IN ({','.join('?' * len(chunk))}){cond}"
            done.update(k for (k,) in self.db.execute(q, chunk))
        return done

    def relabel(self, specs: list[Any]) -> None:
        """Give recorded cells the labels their suite uses now (a label is not part of a cell's key)."""
        with self.db:
            self.db.executemany("UPDATE cells SET method = ?, suite = ? WHERE key = ? AND (method != ? OR suite != ?)",
                                [(s.method.label, s.suite, s.key, s.method.label, s.suite) for s in specs])

    def put(self, spec: Any, status: str, metrics: dict[str, Any], error: str | None, seconds: float,
            started_at: str, finished_at: str) -> None:
        """Record one finished cell (replacing an earlier failed attempt with the same key)."""
        metrics = dict(metrics)
        sha = metrics.pop("dataset_sha256", None)
        row = (
            spec.key, spec.suite, spec.dataset.name, spec.method.label, spec.method.name,
            json.dumps(spec.method.params, sort_keys=True, default=str), int(spec.group_aware),
            spec.classifier.name, json.dumps(spec.classifier.params, sort_keys=True), spec.seed, spec.fold,
            spec.step, status, error, json.dumps(metrics, default=str), seconds, sha, bench.__version__, socket.gethostname(),
            started_at, finished_at,
        )
        try:
            with self.db:
                self.db.execute(f"INSERT OR REPLACE INTO cells VALUES ({','.join('?' * len(row))})", row)
        except sqlite3.OperationalError as e:
            raise StoreError(f"cannot write to {self.path}: {e}") from e

    def frame(self, suite: str | None = None) -> pd.DataFrame:
        """All cells (of one suite) as a DataFrame, metrics expanded into columns."""
        q, args = "SELECT * FROM cells", ()
        if suite:
            q, args = q + " WHERE suite = ?", (suite,)
        df = pd.read_sql_query(q + " ORDER BY dataset, method, classifier, seed, fold, step", self.db, params=args)
        if df.empty:
            return df
        metrics = pd.DataFrame([json.loads(m) for m in df.pop("metrics")], index=df.index)
        return pd.concat([df, metrics], axis=1)

    def rows(self, suite: str | None = None) -> Iterator[dict[str, Any]]:
        """Every row as stored (metrics as their JSON text), oldest first: what `export_rows` writes."""
        q, args = f"SELECT {', '.join(_ORDER)} FROM cells", ()
        if suite:
            q, args = q + " WHERE suite = ?", (suite,)
        for values in self.db.execute(q + " ORDER BY finished_at, key", args):
            yield dict(zip(_ORDER, values))

    def merge(self, rows: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Add rows from another store or an export, in one transaction: a key not here is added; a successful row
        replaces a failed one; otherwise the row here is kept. Returns the counts of added, replaced and kept."""
        counts = {"added": 0, "replaced": 0, "kept": 0}
        try:
            with self.db:
                for row in rows:
                    found = self.db.execute("SELECT status FROM cells WHERE key = ?", (row["key"],)).fetchone()
                    if found and not (found[0] != "ok" and row["status"] == "ok"):
                        counts["kept"] += 1
                        continue
                    counts["replaced" if found else "added"] += 1
                    self.db.execute(f"INSERT OR REPLACE INTO cells ({', '.join(_ORDER)}) "
                                    f"VALUES ({','.join('?' * len(_ORDER))})", [row[c] for c in _ORDER])
        except sqlite3.OperationalError as e:
            raise StoreError(f"cannot write to {self.path}: {e}") from e
        return counts

    def close(self) -> None:
        self.db.close()


def read_rows(path: Path | str) -> list[dict[str, Any]]:
    """The rows of a results store (SQLite) or of an export (JSON lines), each checked to be a whole row.

    Everything is read and checked before anything is merged, so a bad file changes nothing."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"no results store or export at {path}")
    with open(path, "rb") as f:
        is_sqlite = f.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    if is_sqlite:
        store = ResultsStore(path, readonly=True)
        try:
            return list(store.rows())
        finally:
            store.close()
    rows = []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                reason = e.msg if isinstance(e, json.JSONDecodeError) else "not UTF-8 text"
                raise StoreError(f"{path}:{n}: not a JSON line ({reason}); give a results store or a "
                                 "`bench export` file") from None
            missing = _COLUMNS - set(row) if isinstance(row, dict) else _COLUMNS
            if missing:
                raise StoreError(f"{path}:{n}: not a results row (missing {', '.join(sorted(missing))})")
            rows.append(row)
    return rows


def export_rows(rows: Iterable[dict[str, Any]], path: Path | str) -> int:
    """Write rows as JSON lines (written to a temporary file first, so a crash never leaves half an export)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n
