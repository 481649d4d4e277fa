"""smote-variants (Kovács 2019): its 91 oversamplers behind the bench contract, from one adapter.

Each registered name (``sv-prowsyn``, ``sv-polynom-fit-smote-star``, ...; ``methods/smote_variants_names.py``)
resolves to a class made here on first use: ``ProWSyn`` is ``methods.smote_variants:ProWSyn``. Its parameters
are the library class's own (defaults included), minus ``proportion`` (the adapter sets it from ``ratio`` and
the rows each cell needs), ``n_jobs`` (always 1: a sweep already runs one cell per core) and ``random_state``
(ours); a radius the library takes as an absolute length defaults to ``"auto"``, sized from the data
(``_RADII``: SMOBD's ``max_eps``).

How rows are made, for every member alike:

- smote-variants works on float matrices with two classes. Numeric columns are standardised (mean 0, std 1,
  so that no column dominates the distances by its unit); each categorical column is one-hot encoded. Each
  grown cell is oversampled against all other rows, with the cell's seed derived from ``random_state``.
- New rows are the rows of the method's output that are not rows of its input (a multiset difference, so
  copies of real rows count as new) and carry the grown label. Numeric columns are scaled back (integer
  columns rounded); each one-hot block is decoded to its level with the largest value, so every new row holds
  a valid level. Rows with NaN or infinite values are dropped and counted in ``report_``.
- The bench contract keeps the original rows untouched, so steps that delete, relabel or move real rows
  (SMOTE-ENN, SMOTE-IPF, SPY, ...) do not reach the training set: only the method's synthetic rows do;
  ``report_["originals_changed"]`` says how many real rows the method wanted changed.
- Many members cost O(n^2) or more in the rows (on adult's 39,000-row folds, assembled-SMOTE ran past 10
  minutes, CCR took 4). A fold of more than ``max_rows`` rows (default 10,000) is given to the library as a
  stratified sample of that many rows (the grown cell's share kept): its new rows are made from the sample's
  rows of the cell and judged against the sample's other rows. ``max_rows: null`` gives every row.
- A method that returns more rows than asked gives a seeded random subset; fewer are kept as they are
  (``exact_counts = False``: many members decide their own counts). A method that makes no row at all raises
  with the library's own reason (its log), and so does one that returns rows in another space (a projection)
  or none of the grown cell's rows unchanged (a lossy round trip): each becomes an error row in a sweep.
"""

from __future__ import annotations

import functools
import inspect
import logging
import warnings

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from bench.oversampler import Oversampler, stratified_rows
from bench.tabular import OneHotCodec
from methods.smote_variants_names import CLASSES, VERSION, name_of

# Set by the adapter, not by suites: see the module docstring.
_ADAPTER_SET = {"proportion", "n_jobs", "random_state"}
# Library parameters that are absolute lengths in the feature space, with the neighbour count that sizes them.
# Distances on standardised and one-hot columns grow with the number of columns, so a fixed radius finds no
# neighbour on a wide table: SMOBD's max_eps = 1.0 made every OPTICS core distance infinite on 19 of the small
# suite's 40 folds (breast-cancer's 41 columns, credit-g's 61, ...), and the library gave up. Their default here
# is "auto": the median distance from a row of the grown cell to its k-th nearest neighbour in the cell.
_RADII = {"SMOBD": ("max_eps", "min_samples")}


class SmoteVariant(Oversampler):
    """Base of the generated classes: runs smote-variants' ``sv_class`` once per grown cell.

    Examples
    --------
    >>> from bench import registry
    >>> m = registry.create("sv-prowsyn", {"L": 3}, random_state=0)
    >>> (type(m).__name__, m.L, m.theta)
    ('ProWSyn', 3, 1.0)
    """

    exact_counts = False
    #: some members (AMSCO, DSRBF, SMOTE-PSO, ...) take a minute a fold: the second classifier reuses the rows
    cache_resampled = True
    sv_class = ""
    sv_defaults: dict = {}

    def __init__(self, *, max_rows: int | None = 10_000, ratio=1.0, group_column=None, random_state=None,
                 **params):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.max_rows = max_rows
        unknown = sorted(set(params) - set(self.sv_defaults))
        if unknown:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected keyword argument(s) {unknown}")
        for k, default in self.sv_defaults.items():
            setattr(self, k, params.get(k, default))

    def _generate(self, X, strata, needed):
        sv_cls = getattr(_library(), self.sv_class)
        accepted = inspect.signature(sv_cls.__init__).parameters
        codec = OneHotCodec().fit(X)
        A = codec.encode(X)
        numeric = _numeric_mask(codec)
        mean = np.where(numeric, A.mean(axis=0), 0.0)
        scale = np.where(numeric, A.std(axis=0), 1.0)
        scale[scale == 0] = 1.0
        Z_all = np.ascontiguousarray((A - mean) / scale)

        self.report_.update(originals_changed=0, non_finite_dropped=0)
        self.library_log_: list[str] = []  # what the library said (its warnings and log lines), for errors
        rows, codes = [], []
        stratified_rows([], self.max_rows, None)  # a bad value fails before any work
        for s, n in needed.items():
            Z, target = self._rows_for(Z_all, (strata.to_numpy() == s).astype(int), s)
            n_min, n_rest = int(target.sum()), int(len(target) - target.sum())
            kw = {k: getattr(self, k) for k in self.sv_defaults}
            radius, k_nn = _RADII.get(self.sv_class, (None, None))
            if radius and kw[radius] == "auto":
                kw[radius] = _median_kth_distance(Z[target == 1], int(kw[k_nn]))
                self.report_[radius] = kw[radius]
            if "proportion" in accepted:  # smote-variants makes int(proportion * (n_rest - n_min)) rows
                kw["proportion"] = (n + 0.5) / max(n_rest - n_min, 1)
            if "n_jobs" in accepted:
                kw["n_jobs"] = 1
            sampler = sv_cls(**kw, random_state=self.seed(s))
            log = _Capture()
            logging.getLogger("smote_variants").addHandler(log)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")  # the library warns as it works: record, do not raise
                    Z_out, y_out = sampler.sample(Z, target)
            finally:
                logging.getLogger("smote_variants").removeHandler(log)
            # deprecation notices of the libraries underneath say nothing about why rows are missing
            quiet = (DeprecationWarning, FutureWarning)
            notes = [str(w.message) for w in caught if not issubclass(w.category, quiet)]
            for said in [*log.messages, *notes]:
                if said not in self.library_log_:
                    self.library_log_.append(said)
            new = self._new_rows(Z, target, np.asarray(Z_out, dtype=float), np.asarray(y_out))
            if len(new) > n:
                pick = np.random.default_rng(self.seed(1000 + s)).choice(len(new), n, replace=False)
                new = new[np.sort(pick)]
            rows.append(new)
            codes += [s] * len(new)

        new_Z = np.vstack(rows)
        if not len(new_Z):
            said = [m for m in self.library_log_ if "returning copies" in m or "Too few" in m]
            why = "; ".join(said or self.library_log_[-2:]) or "the library said nothing"
            if self.report_["originals_changed"]:
                why = (f"it changed {self.report_['originals_changed']} real rows instead (relabelled, moved "
                       f"or removed), which the contract does not allow; {why}")
            raise RuntimeError(f"{name_of(self.sv_class)} made no new rows ({why})")
        new_A = new_Z * scale + mean
        for j in _integer_positions(codec):
            new_A[:, j] = np.rint(new_A[:, j])
        return codec.decode(new_A), pd.Series(codes)

    def _rows_for(self, Z: np.ndarray, target: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows given to the library for cell ``s``: all, or a stratified sample of ``max_rows``."""
        keep = stratified_rows(target, self.max_rows, self.seed(2000 + s), classes=(1, 0))
        if keep is None:
            return Z, target
        self.report_["rows_sampled"] = len(keep)
        return np.ascontiguousarray(Z[keep]), target[keep]

    def _new_rows(self, Z: np.ndarray, target: np.ndarray, Z_out: np.ndarray, y_out: np.ndarray):
        """Rows of the output that are not input rows (as a multiset) and carry the grown label."""
        name = name_of(self.sv_class)
        if Z_out.ndim != 2 or Z_out.shape[1] != Z.shape[1]:
            raise RuntimeError(f"{name} returned rows with {Z_out.shape[-1]} columns instead of {Z.shape[1]} "
                               "(it works in a projected space); the contract needs rows in the data's own "
                               "columns")
        # Some members hand real rows back through a round trip (scaling, a projection and its inverse): a row
        # within 1e-6 (in standard units) of a real row is that row. Real rows are a multiset: copies count.
        # Matching ignores labels, so a real row relabelled (SPY) is a changed row, not a new one.
        unique, where, counts = np.unique(Z, axis=0, return_inverse=True, return_counts=True)
        dist, nearest = cKDTree(unique).query(Z_out, k=1)
        left = counts.copy()
        grown = np.bincount(where.ravel()[target == 1], minlength=len(unique))
        new, relabelled = [], 0
        for r, label, d, u in zip(Z_out, y_out, dist, nearest):
            if d < 1e-6 and left[u] > 0:
                left[u] -= 1
                relabelled += int(label == 1 and grown[u] == 0 or label != 1 and grown[u] == counts[u])
            elif label == 1:
                new.append(r)
        # Members may drop rows (noise removal, undersampling); one that returns none of the grown cell's own
        # rows has moved them all (a lossy projection and back), and its new rows cannot be told apart
        if not np.minimum(grown, counts - left).sum():
            raise RuntimeError(f"{name} returned none of the grown cell's {int(grown.sum())} rows unchanged "
                               "(it transforms the data, e.g. a lossy projection and back); its new rows "
                               "cannot be told apart")
        self.report_["originals_changed"] += int(left.sum()) + relabelled
        new = np.asarray(new, dtype=float).reshape(-1, Z.shape[1])
        finite = np.isfinite(new).all(axis=1)
        self.report_["non_finite_dropped"] += int((~finite).sum())
        return new[finite]


class _Capture(logging.Handler):
    """The library's log lines at INFO and above, less its routine ones (call descriptor, runtime)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record):
        message = record.getMessage()
        routine = ("Running sampling via", "runtime:", "NearestNeighbors")
        if not any(r in message for r in routine):
            self.messages.append(message)


@functools.cache
def _library():
    try:
        import smote_variants
    except ImportError as e:
        raise ImportError(f"smote-variants is not installed ({e}); `make setup` installs it, or "
                          f"`pip install --no-deps smote-variants=={VERSION} metric-learn minisom`") from e
    # The library logs every call to its own stderr handler; a sweep of thousands of cells needs quiet, and
    # the adapter keeps what it says (library_log_) for the error of a cell that gets no rows.
    for handler in logging.getLogger("smote_variants").handlers:
        handler.setLevel(logging.CRITICAL)
    logging.getLogger("smote_variants").setLevel(logging.INFO)
    return smote_variants


def _median_kth_distance(rows: np.ndarray, k: int) -> float:
    """Median distance from each row to its k-th nearest other row (1.0, the library's default, under 2 rows)."""
    k = min(k, len(rows) - 1)
    if k < 1:
        return 1.0
    dist, _ = cKDTree(rows).query(rows, k=k + 1)  # the first neighbour is the row itself
    return float(np.median(dist[:, -1]))


def _numeric_mask(codec: OneHotCodec) -> np.ndarray:
    return np.concatenate([[False] * len(codec.levels_[c]) if c in codec.levels_ else [True]
                           for c in codec.columns_] or [np.zeros(0, bool)]).astype(bool)


def _integer_positions(codec: OneHotCodec):
    j = 0
    for c in codec.columns_:
        if c in codec.levels_:
            j += len(codec.levels_[c])
            continue
        if pd.api.types.is_integer_dtype(codec.dtypes_[c]):
            yield j
        j += 1


def _make(sv_class: str) -> type[SmoteVariant]:
    """Build the bench class of one smote-variants class, with its parameters as an explicit signature."""
    sv_cls = getattr(_library(), sv_class)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    defaults = {p.name: p.default for p in inspect.signature(sv_cls.__init__).parameters.values()
                if p.kind in kinds and p.name != "self" and p.name not in _ADAPTER_SET}
    if sv_class in _RADII:
        defaults[_RADII[sv_class][0]] = "auto"

    def __init__(self, **params):
        SmoteVariant.__init__(self, **params)

    # scikit-learn's get_params and the suite checks read parameter names from the signature of __init__.
    P = inspect.Parameter
    __init__.__signature__ = inspect.Signature(
        [P("self", P.POSITIONAL_OR_KEYWORD)]
        + [P(k, P.KEYWORD_ONLY, default=v) for k, v in defaults.items()]
        + [P("max_rows", P.KEYWORD_ONLY, default=10_000),
           P("ratio", P.KEYWORD_ONLY, default=1.0), P("group_column", P.KEYWORD_ONLY, default=None),
           P("random_state", P.KEYWORD_ONLY, default=None)]
    )
    doc = (f"smote-variants' {sv_class} ({name_of(sv_class)}), through the adapter of "
           f"methods/smote_variants.py.\n\n{inspect.getdoc(sv_cls) or ''}")
    attrs = {"__init__": __init__, "__module__": __name__, "__qualname__": sv_class, "__doc__": doc,
             "sv_class": sv_class, "sv_defaults": defaults}
    return type(sv_class, (SmoteVariant,), attrs)


@functools.cache
def __getattr__(attr: str) -> type[SmoteVariant]:
    # Classes are made on first access: `methods.smote_variants:ProWSyn` resolves (and pickles) like any class
    if attr not in CLASSES:
        raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
    return _make(attr)
