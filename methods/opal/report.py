"""What an OPAL cell reports (``method.<key>`` in the results store): counts, rates, costs."""

from __future__ import annotations

from collections import Counter
from typing import Any

VALIDATION_ONLY = ("out_of_range", "other_cell", "copy")  # rejections of records that did parse

COUNTS = ("calls", "cached_calls", "prompt_tokens", "completion_tokens", "rows_generated", "rows_accepted",
          "rows_surplus", "copies", "extra_text_lines")
ENGINE_STATS = ("prefill_tokens", "decode_tokens", "forced_tokens", "decode_steps", "prefill_seconds",
                "decode_seconds", "mask_seconds")  # from a local engine's Stats


def rejections(stats: Counter) -> dict[str, int]:
    """Rejected records by reason (``rejected.<reason>`` counters without the prefix)."""
    return {k.split(".", 1)[1]: int(v) for k, v in sorted(stats.items()) if k.startswith("rejected.")}


def summary(stats: Counter) -> dict[str, Any]:
    """Counts and rates of a cell. Parsed: complete, typed, known levels (what a grammar guarantees);
    accepted: also within the column's range, of the grown cell, and not a copy of a real row."""
    generated = stats["rows_generated"]
    rejected = rejections(stats)
    return {
        **{k: int(stats[k]) for k in COUNTS},
        "llm_seconds": float(stats["llm_seconds"]),
        # replies read from the reply cache (and a fine-tune they spared): what they took when they were made
        "replayed_seconds": float(stats["replayed_seconds"]),
        **{k: float(stats[k]) for k in ENGINE_STATS if k in stats},
        "rows_rejected": int(sum(rejected.values())),
        **{f"rejected.{k}": v for k, v in rejected.items()},
        "parse_rate": (generated - sum(v for k, v in rejected.items() if k not in VALIDATION_ONLY)) / generated
        if generated else 0.0,
        "acceptance_rate": stats["rows_accepted"] / generated if generated else 0.0,
    }
