"""The shared base of methods that fit a generator and sample from it (CTGAN, TVAE, OPAL).

The base does the counting (inherited from `Oversampler`) and the bookkeeping; a plugin implements two
steps, ``_fit`` and ``_sample``. Two strategies:

- ``per_cell``: fit one generator on the rows of each cell being grown, sample the rows it needs.
- ``conditional``: fit one generator on the whole training fold with the cell as a discrete column, then
  sample conditionally on each cell being grown (plugins that cannot condition raise NotImplementedError).
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from bench.oversampler import Oversampler

CELL = "__cell__"  # the discrete column that carries the cell code in the conditional strategy


class GenerativeOversampler(Oversampler):
    """Fit a generator, sample exactly the rows each grown cell needs.

    Parameters
    ----------
    strategy : {"per_cell", "conditional"}
        Fit on the grown cell's rows only, or on all rows with the cell as a condition.
    measure_quality : bool
        Record fidelity and privacy of the generated rows against the real rows of their cell.
    """

    strategies = ("per_cell", "conditional")

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
        """Return ``n`` new rows (the feature columns only), of cell ``condition`` when conditional."""
        raise NotImplementedError

    # -- the template -------------------------------------------------------------------------------------
    def _generate(self, X, strata, needed):
        if self.strategy not in self.strategies:
            raise ValueError(f"strategy must be one of {self.strategies}, not {self.strategy!r}")
        parts, codes = [], []
        fit_s = sample_s = 0.0
        if self.strategy == "conditional":
            t0 = time.perf_counter()
            self._fit(X.assign(**{CELL: pd.Categorical(strata.to_numpy())}), CELL)
            fit_s += time.perf_counter() - t0
        for cell, n in needed.items():
            if self.strategy == "per_cell":
                t0 = time.perf_counter()
                self._fit(X[strata.to_numpy() == cell], None)
                fit_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            rows = self._sample(n, cell if self.strategy == "conditional" else None)
            sample_s += time.perf_counter() - t0
            parts.append(rows[list(X.columns)])
            codes += [cell] * len(rows)
        new = pd.concat(parts, ignore_index=True)
        self.report_.update(fit_seconds=fit_s, sample_seconds=sample_s)
        if self.measure_quality and len(new):
            from bench.quality import synthetic_quality

            for cell in needed:
                real = X[strata.to_numpy() == cell]
                synth = new[pd.Series(codes).to_numpy() == cell]
                for k, v in synthetic_quality(real, synth, reference=X).items():
                    # weighted by cell size below; one cell (the usual case) reports its own numbers
                    self.report_[k] = self.report_.get(k, 0.0) + v * len(synth) / len(new)
        return new, pd.Series(codes, dtype=int)
