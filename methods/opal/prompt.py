"""The prompts OPAL sends: in-context chat messages (the paper's form) and GReaT-style prefixes after fine-tuning.

In-context (arXiv 2406.03628, as in its ``gpt-api/new_prompt.py``): a system message on the data's topic; a user
message naming the features and asking for K new records that are not copies; a user message holding a window
of real records; a user message asking for the records only. Backends that cannot take consecutive user
messages get them merged (:func:`merge_consecutive`); the words stay the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from methods.opal.parse import GROUP, LABEL, Schema

Messages = list[dict[str, str]]

SYSTEM = (
    "You are a statistician and an expert in analysing records of {topic}. Your objective is to write new "
    "records that closely mirror the statistical properties of the real records you are given. You are good at "
    "in-context learning."
)
TASK = (
    "The following are real records of {topic}. Each record has these features: {features}. Study them "
    "carefully, then write {k} new records{target} as if they came from the same source. Do not copy the real "
    "records: introduce realistic variation while keeping each feature's range and distribution and the "
    "relationships between the features. Write each record in the same format as the real records "
    "({format}) and do not number them."
)
FORMATS = {
    "sentence": "feature is value, ...",
    "compact": "one line of comma-separated values per record, in the column order of the header line {header}",
}
ANSWER = "Your answer must contain only the {k} new records, one per line, in the same format, and no other words."


def plain_name(column: str) -> str:
    """A column name in plain words: 'education-num' -> 'education num', 'DEATH_EVENT' -> 'DEATH EVENT'."""
    return re.sub(r"[_\-]+", " ", str(column)).strip()


def topic_of(description: str, schema: Schema) -> str:
    """What the records are about: the suite's description, else a phrase built from the column names."""
    if description.strip():
        return description.strip().rstrip(".")
    return "a table with the columns " + ", ".join(plain_name(c.name) for c in schema.columns)


def features_text(schema: Schema, feature_descriptions: Mapping[str, str] | None = None) -> str:
    """Every field with its plain-words meaning: 'plas (plasma glucose concentration), ...'."""
    feature_descriptions = feature_descriptions or {}
    parts = []
    for col in schema.columns:
        words = feature_descriptions.get(col.name) or plain_name(col.name)
        if col.kind == "category" and len(col.levels) <= 12:
            words += ": one of " + ", ".join(col.levels)
        parts.append(col.name if words == col.name else f"{col.name} ({words})")
    return "; ".join(parts)


def target_text(schema: Schema, target: Mapping[str, object]) -> str:
    """' in which class is 1' (and 'group is a'): what the new records must have."""
    cols = {c.key: c for c in schema.columns}
    conds = [f"{cols[k].name} is {cols[k].format(v)}" for k, v in target.items() if k in cols]
    return " in which " + " and ".join(conds) if conds else ""


def in_context_messages(schema: Schema, window: list[str], k: int, target: Mapping[str, object],
                        description: str = "", feature_descriptions: Mapping[str, str] | None = None,
                        header: str | None = None) -> Messages:
    """The paper's four messages for one call: system topic, task, window of real records, answer format.

    ``header``: the records are in the compact form (values only); the window starts with this header line.
    """
    topic = topic_of(description, schema)
    fmt = FORMATS["compact"].format(header=header) if header is not None else FORMATS["sentence"]
    return [
        {"role": "system", "content": SYSTEM.format(topic=topic)},
        {"role": "user", "content": TASK.format(topic=topic, features=features_text(schema, feature_descriptions),
                                                k=k, target=target_text(schema, target), format=fmt)},
        {"role": "user", "content": "\n".join(([header] if header is not None else []) + window)},
        {"role": "user", "content": ANSWER.format(k=k)},
    ]


def merge_consecutive(messages: Messages) -> Messages:
    """Join consecutive messages of one role (for chat templates that insist on alternating roles)."""
    out: Messages = []
    for m in messages:
        if out and out[-1]["role"] == m["role"]:
            out[-1] = {"role": m["role"], "content": out[-1]["content"] + "\n\n" + m["content"]}
        else:
            out.append(dict(m))
    return out


def conditioning_order(schema: Schema, feature_order: list[str]) -> list[str]:
    """Fine-tuned (GReaT-style) records put label and group first so that sampling can start from them."""
    first = [k for k in (LABEL, GROUP) if k in {c.key for c in schema.columns}]
    return first + feature_order


def conditioning_prefix(schema: Schema, target: Mapping[str, object]) -> str:
    """The start of a fine-tuned record for a cell: 'class is 1, group is a,'."""
    cols = {c.key: c for c in schema.columns}
    keys = [k for k in (LABEL, GROUP) if k in target and k in cols]
    return ", ".join(f"{cols[k].name} is {cols[k].format(target[k])}" for k in keys) + ","


def window_rows(strata: np.ndarray, cell: int, n_cells: int, window: int, mode: str,
                rng: np.random.Generator) -> list[int]:
    """Rows shown in one prompt: ``window`` rows of the grown cell (``mode="cell"``), or the same number from
    every cell, interleaved with the grown cell first (``"balanced"``, the paper's alternating window)."""
    if mode == "cell":
        members = np.flatnonzero(strata == cell)
        return list(rng.choice(members, size=min(window, len(members)), replace=False))
    codes = [cell] + [c for c in range(n_cells) if c != cell]
    per = max(1, window // len(codes))
    chosen = []
    for c in codes:
        members = np.flatnonzero(strata == c)
        chosen.append(list(rng.choice(members, size=min(per, len(members)), replace=False)))
    return [p for group in _interleave(chosen) for p in group]


def _interleave(lists: list[list[int]]) -> list[list[int]]:
    """[[a1, a2], [b1]] -> [[a1], [b1], [a2]]: alternate the cells as the paper's window does."""
    out, i = [], 0
    while any(i < len(x) for x in lists):
        out.append([x[i] for x in lists if i < len(x)])
        i += 1
    return out
