"""Rows as text and back: the schema of a training fold, serialization, and parsing with validation.

A record is written the way the OPAL paper writes it: ``"feature is value, ..., label is value."``. Parsing is
strict where a wrong row would silently hurt a classifier (every feature present, values cast to the column's
type, categories among the levels seen in training, numbers within a margin of the training range) and lenient
about presentation (list markers, markdown bold, case, several records on one line). Every candidate record is
either accepted or rejected with exactly one reason, so the counts add up.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

LABEL, GROUP = "__label__", "__group__"  # keys of the label and group values in parsed rows
REASONS = ("unknown_feature", "duplicate_feature", "missing_feature", "wrong_type", "unknown_category",
           "out_of_range", "truncated")


@dataclass
class Column:
    """One field of a record: its name in the text, its type, and what values are allowed."""

    key: str  # column of X, or LABEL / GROUP
    name: str  # name written in the text
    kind: str  # "int", "float" or "category"
    levels: dict[str, Any] = field(default_factory=dict)  # text -> category value
    low: float = math.nan
    high: float = math.nan
    decimals: int = 6  # decimal places the training values show (floats)

    def format(self, v: Any) -> str:
        if self.kind == "category":
            return str(v)
        return format_number(float(v), integer=self.kind == "int")


def format_number(v: float, integer: bool = False) -> str:
    """Plain positional notation an LLM reads easily: 305000 not 3.05e+05, 0.25 not 0.25000001."""
    if integer or float(v).is_integer():
        return str(round(v))
    s = format(v, ".6g")
    if "e" in s:
        s = np.format_float_positional(v, precision=6, unique=False, fractional=False, trim="-")
    return s


class Schema:
    """Columns of the records (features, then group and label when given) with their allowed values.

    Parameters
    ----------
    X : DataFrame
        The training fold's features (all classes: the numeric ranges come from it).
    label_name, labels : str, list
        Name of the label in the text and the label values that exist.
    group_name, groups : str, list, optional
        Same for the group attribute in group-aware mode.
    range_margin : float
        A number is valid within ``[min - m * span, max + m * span]`` of its training column.
    """

    def __init__(self, X: pd.DataFrame, label_name: str, labels: list, group_name: str | None = None,
                 groups: list | None = None, range_margin: float = 0.1):
        self.columns: list[Column] = []
        for c in X.columns:
            s = X[c]
            if isinstance(s.dtype, pd.CategoricalDtype):
                self.columns.append(Column(c, str(c), "category", {str(v): v for v in s.cat.categories}))
            else:
                lo, hi = float(s.min()), float(s.max())
                span = hi - lo if hi > lo else max(abs(hi), 1.0)
                kind = "int" if pd.api.types.is_integer_dtype(s) else "float"
                self.columns.append(Column(c, str(c), kind, low=lo - range_margin * span, high=hi + range_margin * span,
                                           decimals=decimals_of(s.dropna().to_numpy()[:1000]) if kind == "float" else 0))
        if group_name is not None:
            self.columns.append(Column(GROUP, group_name, "category", {str(v): v for v in groups or []}))
        self.columns.append(Column(LABEL, label_name, "category", {str(v): v for v in labels}))
        self.by_name = {_norm(col.name): col for col in self.columns}
        names = sorted((re.escape(col.name) for col in self.columns), key=len, reverse=True)
        # a record boundary inside a line: "..., label is 1. age is 40, ..."
        self._record_split = re.compile(r"(?<=\.)\s+(?=(?:" + "|".join(names) + r")\s+is\s)", re.IGNORECASE)

    @property
    def features(self) -> list[Column]:
        return [c for c in self.columns if c.key not in (LABEL, GROUP)]

    def serialize(self, row: dict[str, Any], order: list[str] | None = None) -> str:
        """``row`` maps column keys to values; ``order`` (keys) defaults to the schema's order."""
        cols = {c.key: c for c in self.columns}
        keys = order or [c.key for c in self.columns if c.key in row]
        return ", ".join(f"{cols[k].name} is {cols[k].format(row[k])}" for k in keys) + "."

    def canonical(self, row: dict[str, Any]) -> tuple[str, ...]:
        """A row's values as text in schema order: equal tuples are the same record (used to find copies)."""
        return tuple(c.format(row[c.key]) for c in self.columns if c.key in row)

    # -- parsing ------------------------------------------------------------------------------------------
    def parse(self, text: str, truncated: bool = False) -> tuple[list[dict[str, Any]], Counter]:
        """Parse an LLM reply into valid rows and a count of rejections by reason.

        ``truncated``: the reply was cut by the token limit, so its last record is suspect unless it ends
        with a period. Lines that hold no ``name is value`` pair of a known column are counted as
        ``extra_text_lines`` (not rows).
        """
        rows: list[dict[str, Any]] = []
        counts: Counter = Counter()
        candidates = []
        for line in text.splitlines():
            for piece in self._record_split.split(line):
                body = _strip_marker(piece)
                if not body:
                    continue
                pairs = _pairs(body)
                if any(_norm(k) in self.by_name for k, _ in pairs):
                    candidates.append((body, pairs))
                else:
                    counts["extra_text_lines"] += 1
        for i, (body, pairs) in enumerate(candidates):
            last_cut = truncated and i == len(candidates) - 1 and not body.rstrip().endswith(".")
            row, reason = (None, "truncated") if last_cut else self._validate(pairs)
            if row is None:
                counts[reason] += 1
            else:
                rows.append(row)
        return rows, counts

    def _validate(self, pairs: list[tuple[str, str]]) -> tuple[dict[str, Any] | None, str]:
        raw: dict[str, str] = {}
        for k, v in pairs:
            col = self.by_name.get(_norm(k))
            if col is None:
                return None, "unknown_feature"
            v = _clean_value(v)
            if col.key in raw and raw[col.key] != v:
                return None, "duplicate_feature"
            raw[col.key] = v
        if len(raw) < len(self.columns):
            return None, "missing_feature"
        row: dict[str, Any] = {}
        for col in self.columns:
            value, reason = _cast(col, raw[col.key])
            if reason:
                return None, reason
            row[col.key] = value
        return row, ""


    # -- the compact form: a header once, then values only ---------------------------------------------------
    def header(self, order: list[str]) -> str:
        """The compact form's header line: column names in record order, comma-separated."""
        cols = {c.key: c for c in self.columns}
        return ",".join(csv_field(cols[k].name) for k in order)

    def serialize_compact(self, row: dict[str, Any], order: list[str]) -> str:
        cols = {c.key: c for c in self.columns}
        return ",".join(csv_field(cols[k].format(row[k])) for k in order)

    def parse_compact(self, text: str, order: list[str], truncated: bool = False) -> tuple[list[dict[str, Any]], Counter]:
        """Parse value-only lines in ``order``; same checks and reasons as :meth:`parse`."""
        cols = {c.key: c for c in self.columns}
        rows: list[dict[str, Any]] = []
        counts: Counter = Counter()
        lines = [ln for ln in text.splitlines() if ln.strip()]
        for i, line in enumerate(lines):
            fields = next(csv.reader([_strip_marker(line)]), [])
            if len(fields) < 2:  # not a record
                counts["extra_text_lines"] += 1
                continue
            if truncated and i == len(lines) - 1:
                counts["truncated"] += 1
                continue
            if len(fields) != len(order):
                counts["missing_feature" if len(fields) < len(order) else "unknown_feature"] += 1
                continue
            row, reason = {}, ""
            for key, value in zip(order, fields):
                row[key], reason = _cast(cols[key], _clean_value(value))
                if reason:
                    break
            if reason:
                counts[reason] += 1
            else:
                rows.append(row)
        return rows, counts


def decimals_of(values: Any) -> int:
    """Decimal places the records show for a float column (at least 1). format_number keeps six significant
    digits, so a small value shows more than six places (0.0055254: seven)."""
    most = 1
    for v in values:
        text = format_number(float(v))
        if "." in text:
            most = max(most, len(text.split(".", 1)[1]))
    return most


def csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n') else text


def _cast(col: Column, text: str) -> tuple[Any, str]:
    if col.kind == "category":
        if text in col.levels:
            return col.levels[text], ""
        low = {k.lower(): v for k, v in col.levels.items()}
        if text.lower() in low:
            return low[text.lower()], ""
        x = _number(text)
        if x is not None:  # "1.0" for level "1"
            for k, v in col.levels.items():
                if _number(k) == x:
                    return v, ""
        return None, "unknown_category"
    x = _number(text)
    if x is None or (col.kind == "int" and not float(x).is_integer()):
        return None, "wrong_type"
    if not (col.low <= x <= col.high):
        return None, "out_of_range"
    return (int(x) if col.kind == "int" else x), ""


def _number(text: str) -> float | None:
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


_MARKER = re.compile(r"^\s*(?:[-*•>]+|\d+\s*[.):]|(?:record|row)\s*#?\d*\s*[:.)-])\s*", re.IGNORECASE)
_PAIR_SPLIT = re.compile(r"\s*[,;]\s*(?=[^,;]+?\s+is\s)")
_PAIR = re.compile(r"^(.+?)\s+is\s+(.*)$", re.DOTALL)


def _strip_marker(s: str) -> str:
    s = s.strip().strip("`\"'")
    prev = None
    while prev != s:
        prev, s = s, _MARKER.sub("", s, count=1).strip()
    return s


def _pairs(body: str) -> list[tuple[str, str]]:
    out = []
    for piece in _PAIR_SPLIT.split(body):
        m = _PAIR.match(piece.strip())
        if m:
            out.append((m.group(1), m.group(2)))
        else:
            out.append((piece, ""))  # text without "is": an unknown feature unless it matches a name
    return out


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().strip("*`\"'").lower()).strip()


def _clean_value(v: str) -> str:
    v = v.strip().rstrip(".,;").strip().strip("*`\"'").strip()
    return v
