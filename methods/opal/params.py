"""OPAL's settings: which values are valid, and the defaults that depend on where the model runs.

In-context sampling on this machine's own model is fastest with many short sequences decoded together: the
shared-prefix engine runs 2.5x more valid rows per second at 128 sequences of k = 2 records (32 replies per
window) than at 22 sequences of k = 10 (methods/opal/README.md, "Run 6"). A remote model (``openai``) is asked
as in the paper: one reply of k = 10 records per window, one prompt per request.
"""

from __future__ import annotations

import math
from typing import Any

from methods.opal.finetune import MODES
from methods.opal.grammar import SERIALIZATIONS

WINDOW_MODES = ("cell", "balanced")
ENGINES = ("shared-prefix", "lockstep", "generate", "llama.cpp")


def records_per_call(m: Any) -> int:
    """k: records asked of each in-context reply."""
    return m.k if m.k is not None else (10 if m.backend == "openai" else 2)


def sequences_per_call(m: Any) -> int:
    """Sequences (replies) sent to the backend at once: 128 on a local model, in-context or fine-tuned (the
    engine decodes 108.5 tokens/s at batch 128 against 88.2 at 64, run 6), one request at a time to a remote one."""
    if m.batch_size:
        return m.batch_size
    return 128 if m.backend == "transformers" else 1


def replies_per_window(m: Any) -> int:
    """In-context replies drawn from one window of real records (they share its prompt)."""
    return m.samples_per_window or (1 if m.backend == "openai" else 32)


def max_calls(m: Any, rows: int) -> int:
    """Calls a grown cell may make for ``rows`` rows: what 8x the rows need on a local model (its records are
    cheap; on haberman's three small integers 60-75 % of them are exact copies of real rows, dropped), 4x on a
    paid remote one, and 10 more."""
    if m.max_calls is not None:
        return m.max_calls
    per_call = 1 if m.finetune != "none" else records_per_call(m)
    return math.ceil((4 if m.backend == "openai" else 8) * rows / per_call) + 10


def check(m: Any) -> None:
    """Refuse an impossible setting with a message that names it."""
    checks = [
        (m.backend in ("transformers", "openai"), f"backend must be 'transformers' or 'openai', not {m.backend!r}"),
        (m.window_mode in WINDOW_MODES, f"window_mode must be one of {WINDOW_MODES}, not {m.window_mode!r}"),
        (m.finetune in MODES, f"finetune must be one of {MODES}, not {m.finetune!r}"),
        (m.finetune == "none" or m.backend == "transformers", "finetune needs backend='transformers'"),
        (m.finetune_rows in ("all", "grown"), f"finetune_rows must be 'all' or 'grown', not {m.finetune_rows!r}"),
        ((m.k is None or m.k >= 1) and m.window >= 1, "k and window must be at least 1"),
        (m.serialization in SERIALIZATIONS, f"serialization must be one of {SERIALIZATIONS}, not {m.serialization!r}"),
        (m.serialization == "sentence" or m.finetune == "none",
         "serialization 'compact' is for the in-context mode (fine-tuned records are sentences)"),
        (m.engine in ENGINES, f"engine must be one of {ENGINES}, not {m.engine!r}"),
        (m.engine != "llama.cpp" or m.finetune == "none",
         "engine 'llama.cpp' is for the in-context mode (fine-tuning trains the torch weights)"),
        (not (m.constrained and m.backend == "openai"),
         "constrained decoding needs backend='transformers' (set constrained: false for openai)"),
        (m.samples_per_window is None or m.samples_per_window >= 1, "samples_per_window must be >= 1"),
        (m.batch_size is None or m.batch_size >= 1, "batch_size must be >= 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(f"opal: {message}")
