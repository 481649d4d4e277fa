"""The shared base of methods that fit a generator and sample from it (CTGAN, TVAE, OPAL).

The base does the counting (inherited from `Oversampler`) and the bookkeeping; a plugin implements two
steps, ``_fit`` and ``_sample``. Two strategies:

- ``per_cell``: fit one generator on the rows of each cell being grown, sample the rows it needs.
- ``conditional``: fit one generator on the whole training fold with the cell as a discrete column, then
  sample conditionally on each cell being grown (plugins that cannot condition raise NotImplementedError).

The base guarantees exactly the rows asked for, or a clear error: it asks ``_sample`` again for the rows still
missing, drops rows that are incomplete, hold a level outside a categorical column's levels, or (when the
plugin returns the ``CELL`` column) belong to another cell, and gives up after ``max_sample_rounds`` requests.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd

from bench.oversampler import Oversampler, is_categorical

CELL = "__cell__"  # the discrete column that carries the cell code in the conditional strategy


class GenerativeOversampler(Oversampler):
    """Fit a generator, sample exactly the rows each grown cell needs.

    Parameters
    ----------
    strategy : {"per_cell", "conditional"}
        Fit on the grown cell's rows only, or on all rows with the cell as a condition.
    measure_quality : bool
        Record fidelity and privacy of the generated rows against the real rows of their cell
        (`bench.quality.synthetic_quality`) in ``report_``.

    Notes
    -----
    A plugin's ``_sample(n, condition)`` may return fewer than ``n`` rows (the base asks again for the rest)
    or more (the surplus is dropped), and may include the ``CELL`` column, whose rows of other cells are then
    dropped: a plugin that can only *bias* generation towards a cell, or not condition at all, samples freely
    and lets the base keep the rows of the requested cell (rejection sampling). Before each ``_fit`` the base
    sets ``fit_index_`` (0, 1, ... within one ``fit_resample``), from which a plugin derives its seeds.
    """

    strategies = ("per_cell", "conditional")
    requests_gpu = True
    cache_resampled = True
    #: per_cell: the fewest rows a plugin can fit on; a smaller grown cell is a clear ValueError
    min_cell_rows = 1
    #: how many times ``_sample`` is asked for the rows still missing before the base gives up
    max_sample_rounds = 20
    #: the most a request is inflated over the rows still missing, when earlier rows came back rejected
    max_oversampling = 50

    def __init__(self, *, strategy: str = "per_cell", measure_quality: bool = True, ratio: float = 1.0,
                 group_column: str | None = None, random_state: int | None = None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.strategy = strategy
        self.measure_quality = measure_quality

    # -- what a plugin implements -------------------------------------------------------------------------
    def _fit(self, X: pd.DataFrame, condition_column: str | None) -> None:
        """Fit the generator on ``X`` (which holds ``condition_column`` when given)."""
        raise NotImplementedError

    def _sample(self, n: int, condition: Any | None) -> pd.DataFrame:
        """Return about ``n`` new rows of the feature columns (plus ``CELL`` if it likes), of cell ``condition``."""
        raise NotImplementedError

    # -- the template -------------------------------------------------------------------------------------
    def _generate(self, X, strata, needed):
        if self.strategy not in self.strategies:
            raise ValueError(f"strategy must be one of {self.strategies}, not {self.strategy!r}")
        codes = strata.to_numpy()
        if self.strategy == "per_cell":
            self._check_cell_sizes(strata, needed)
        self.report_.update(fit_seconds=0.0, sample_seconds=0.0, rows_drawn=0, sample_rounds=0)
        self.fit_index_ = -1
        if self.strategy == "conditional":
            self._timed_fit(X.assign(**{CELL: pd.Categorical(codes)}), CELL)
        parts: dict[int, pd.DataFrame] = {}
        for cell, n in needed.items():
            if self.strategy == "per_cell":
                self._timed_fit(X[codes == cell], None)
            parts[cell] = self._draw(X, n, cell if self.strategy == "conditional" else None, cell)
        new = pd.concat(list(parts.values()), ignore_index=True)
        new_codes = pd.Series(np.repeat(list(parts), [len(p) for p in parts.values()]), dtype=int)
        if self.measure_quality and len(new):
            self._measure_quality(X, codes, parts)
        return new, new_codes

    # -- steps --------------------------------------------------------------------------------------------
    def _check_cell_sizes(self, strata: pd.Series, needed) -> None:
        counts = strata.value_counts()
        small = {int(s): int(counts.get(s, 0)) for s in needed if counts.get(s, 0) < self.min_cell_rows}
        if small:
            raise ValueError(
                f"{type(self).__name__} with strategy='per_cell' fits a generator on each grown cell's rows and "
                f"needs at least {self.min_cell_rows}, but cells {small} (code: rows) have fewer; use "
                f"strategy='conditional' (one generator on all rows) or a non-generative method"
            )

    def _timed_fit(self, X: pd.DataFrame, condition_column: str | None) -> None:
        self.fit_index_ += 1
        t0 = time.perf_counter()
        self._fit(X, condition_column)
        self.report_["fit_seconds"] += time.perf_counter() - t0

    def _draw(self, X: pd.DataFrame, n: int, condition: Any | None, cell: int) -> pd.DataFrame:
        """Ask ``_sample`` until ``n`` valid rows of the cell are in hand; fail clearly if they never come."""
        kept: list[pd.DataFrame] = []
        have = asked = accepted = drawn = 0
        ask = n
        for _ in range(self.max_sample_rounds):
            t0 = time.perf_counter()
            rows = self._sample(ask, condition)
            self.report_["sample_seconds"] += time.perf_counter() - t0
            self.report_["sample_rounds"] += 1
            drawn += len(rows)
            if CELL in rows.columns:
                rows = rows[rows[CELL].astype(str).to_numpy() == str(cell)]
            missing = [c for c in X.columns if c not in rows.columns]
            if missing:
                raise RuntimeError(f"{type(self).__name__}._sample returned no column(s) {missing}")
            rows = _conform(rows[list(X.columns)], X)
            asked, accepted = asked + ask, accepted + len(rows)
            kept.append(rows.iloc[: n - have])
            have += len(kept[-1])
            if have == n:
                break
            rate = max(accepted / asked, 1 / self.max_oversampling)
            ask = math.ceil((n - have) / rate)
        self.report_["rows_drawn"] += drawn
        if have < n:
            raise RuntimeError(
                f"{type(self).__name__} made only {have} of the {n} rows asked for cell {cell} after "
                f"{self.max_sample_rounds} requests ({drawn} rows drawn; the others were of another cell, "
                f"incomplete or outside the categories): the generator rarely produces this cell; try "
                f"strategy='per_cell' or more training"
            )
        return pd.concat(kept, ignore_index=True)

    def _measure_quality(self, X: pd.DataFrame, codes: np.ndarray, parts: dict[int, pd.DataFrame]) -> None:
        """Score each cell's rows against the real rows of that cell; report the row-weighted mean."""
        from bench.quality import synthetic_quality

        t0 = time.perf_counter()
        scored = [(len(rows), synthetic_quality(X[codes == cell], rows, reference=X))
                  for cell, rows in parts.items() if len(rows)]
        for key in dict.fromkeys(k for _, q in scored for k in q):
            pairs = [(w, q[key]) for w, q in scored if key in q]
            self.report_[key] = sum(w * v for w, v in pairs) / sum(w for w, _ in pairs)
        self.report_["quality_seconds"] = time.perf_counter() - t0


def _conform(rows: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
    """Give sampled rows the dtypes of ``X``; drop rows with a missing value or a level outside the categories."""
    out = {}
    for c in X.columns:
        if is_categorical(X[c]):
            out[c] = pd.Categorical(rows[c].astype(object), categories=X[c].cat.categories)
        else:
            values = pd.to_numeric(rows[c], errors="coerce")
            values = values.where(np.isfinite(values.astype(float)))
            out[c] = values.round() if pd.api.types.is_integer_dtype(X[c]) else values
    conformed = pd.DataFrame(out, index=rows.index)
    conformed = conformed[conformed.notna().all(axis=1)]
    return conformed.astype(X.dtypes.to_dict())
