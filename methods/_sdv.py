"""What the CTGAN and TVAE plugins share: sdv metadata from dtypes, seeded fitting, sampling back to levels.

sdv is imported here only when a model is fitted, so listing methods stays fast.

Seeding: the ctgan package that sdv wraps trains with torch's and numpy's *global* generators and offers no
seed argument for fitting, so `seeded_globals` seeds them from the method's ``random_state`` for the duration
of the fit and restores them afterwards (nothing leaks to the caller). Sampling uses the model's own generators,
seeded through sdv's ``_set_random_state`` (sdv would otherwise reset them to its fixed seed 73251).

Conditional sampling: sdv's ``sample_from_conditions`` only rejection-samples for CTGAN and TVAE (its
``CTGANSynthesizer._sample`` refuses conditions). CTGAN was trained to condition on a discrete column, so
`sample` calls the wrapped model's ``sample(n, column, value)`` directly; the base keeps the rows that came out
in the requested cell. Two upstream faults are worked around (ctgan 0.12.1; CTGAN issues #169, #235, #273,
unmerged PR #236): ``generate_cond_from_condition_column_info`` puts the condition at the position of the
*first* discrete column whatever column is named, so the condition column is fitted as the first column; and
the generator samples in training mode, where batch normalisation over a batch that shares one condition
washes the condition out, so conditional sampling runs in eval mode. Both reach into sdv internals (``_model``,
``_data_processor``), which is why sdv is pinned.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from bench.oversampler import is_categorical

TABLE = "t"


def metadata_for(X: pd.DataFrame) -> Any:
    """sdv metadata from the dtypes: categorical -> categorical, bool -> boolean, other numbers -> numerical."""
    from sdv.metadata import Metadata

    def sdtype(s: pd.Series) -> str:
        if is_categorical(s):
            return "categorical"
        return "boolean" if pd.api.types.is_bool_dtype(s) else "numerical"

    columns = {c: {"sdtype": sdtype(X[c])} for c in X.columns}
    return Metadata.load_from_dict({"tables": {TABLE: {"columns": columns}}})


def encoded_width(X: pd.DataFrame) -> int:
    """An upper bound of the width of CTGAN's and TVAE's encoding of ``X``, known before fitting.

    The ctgan package one-hot encodes a categorical column (one column per level) and writes a numeric one as a
    value plus a one-hot of its mode, from a Bayesian Gaussian mixture of at most 10 components that keeps the
    modes it uses: so at most 1 + min(10, distinct values). Measured against the fitted encoding on fold 0:
    adult 167 (fitted 154), coil2000 696 (fitted 507).
    """
    width = 0
    for c in X.columns:
        if is_categorical(X[c]) or X[c].dtype == object:
            width += max(int(X[c].nunique()), 1)
        else:
            width += 1 + min(10, int(X[c].nunique()))
    return width


def fit(kind: str, params: dict[str, Any], X: pd.DataFrame, seed: int, enable_gpu: bool,
        condition_column: str | None = None) -> tuple[Any, dict]:
    """Fit sdv's ``CTGANSynthesizer`` (kind "ctgan") or ``TVAESynthesizer`` ("tvae") on ``X``; seeded.

    A ``condition_column`` is moved to the front (see the module notes). Returns the fitted synthesizer and
    facts for the method's report (device, peak GPU memory).
    """
    import torch
    from sdv.single_table import CTGANSynthesizer, TVAESynthesizer

    cls = {"ctgan": CTGANSynthesizer, "tvae": TVAESynthesizer}[kind]
    cuda = enable_gpu and torch.cuda.is_available()
    if condition_column is not None:
        X = X[[condition_column] + [c for c in X.columns if c != condition_column]]
    synth = cls(metadata_for(X), enable_gpu=enable_gpu, **params)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    # categorical columns go in as plain objects (sdv refuses the category dtype) and come back as such
    frame = X.astype({c: object for c in X.columns if is_categorical(X[c])})
    with seeded_globals(seed, cuda), library_call():
        synth.fit({TABLE: frame})
    synth._set_random_state(seed + 1)
    info: dict[str, Any] = {"device": "cuda" if cuda else "cpu"}
    if cuda:
        info["gpu_peak_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return synth, info


def sample(synth: Any, n: int, condition: tuple[str, Any] | None = None) -> pd.DataFrame:
    """``n`` rows from a fitted synthesizer; with ``(column, value)``, CTGAN's native conditioning."""
    import torch

    with library_call():
        if condition is None:
            return synth.sample(n)[TABLE]
        generator = synth._model._generator
        generator.eval()
        try:
            with torch.no_grad():
                raw = synth._model.sample(n, *condition)
        finally:
            generator.train()
        return synth._data_processor.reverse_transform(raw)


@contextlib.contextmanager
def seeded_globals(seed: int, cuda: bool = False) -> Iterator[None]:
    """Seed torch's and numpy's global generators for a library that reads them; restore them afterwards."""
    import torch

    np_state = np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed)  # the library draws from the global generator; restored below
        try:
            yield
        finally:
            np.random.set_state(np_state)


@contextlib.contextmanager
def library_call() -> Iterator[None]:
    """Run sdv/ctgan in this process and quietly.

    ctgan transforms tables of 500 rows or more with ``joblib.Parallel(n_jobs=-1)``: a pool of one process per
    core inside every benchmark worker (oversubscribed cores, leaked /dev/shm folders); the sequential backend
    keeps it in-process. Its deprecation chatter (pandas downcasting in sdv, sklearn mixture convergence) says
    nothing a bench user can act on, and the test suite turns warnings into errors.
    """
    from joblib import parallel_config
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(), parallel_config(backend="sequential"):
        for category in (FutureWarning, DeprecationWarning, ConvergenceWarning):
            warnings.simplefilter("ignore", category)
        yield
