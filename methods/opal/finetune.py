"""Fine-tune a causal LM on the training fold's serialized rows before sampling (GReaT style).

One record per sequence, ending with the end-of-text token; the conditioning fields (label, group) come first
so that a record can be sampled from the prefix ``"label is 1,"``. ``mode="lora"`` trains LoRA adapters on all
linear layers (peft) and merges them; ``mode="full"`` trains every weight (what a tiny model from scratch
needs). Training is seeded and local to this call (``torch.random.fork_rng``), so the same rows, settings and
seed give the same weights: the fine-tune fingerprint can then stand for the weights in the reply cache.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

MODES = ("none", "lora", "full")
# Padded tokens in one forward pass while training. Memory grows with them: SmolLM2-135M's backward pass on 8
# records of 300 tokens (a climate-model batch) took the process to 6.5 GB (0.5 GB before it), which with the
# fine-tuned copy of the model passed a cell's 8 GiB; in parts of at most 1,024 tokens, 3.9 GB. A batch is run in
# parts and their gradients summed (see :func:`backward`), so the optimizer step is the same.
MICRO_TOKENS = 1024
_DONE: dict[str, Any] = {}  # per process: fingerprint -> fine-tuned model (the last one only: models are large)


def fingerprint(base_model_id: str, texts: list[str], settings: dict[str, Any]) -> str:
    blob = json.dumps({"base": base_model_id, "texts": texts, **settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def settings_for(*, mode: str, epochs: int, lr: float | None, batch_size: int, seed: int, lora_r: int = 16,
                 max_length: int = 512) -> dict[str, Any]:
    """The full fine-tuning settings (defaults filled in): with the texts and base model they fix the weights."""
    if mode not in MODES[1:]:
        raise ValueError(f"finetune must be one of {MODES}, not {mode!r}")
    lr = lr if lr is not None else (1e-3 if mode == "lora" else 3e-3)
    return {"mode": mode, "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "lora_r": lora_r,
            "max_length": max_length}


def finetune(backend: Any, texts: list[str], settings: dict[str, Any], fp: str) -> dict[str, Any]:
    """Fine-tune ``backend.model`` (a TransformersBackend) on ``texts``; replace it; return training stats.

    ``fp`` is :func:`fingerprint` of the base model, texts and settings; it names the weights in the cache.
    """
    import copy
    import warnings

    import torch

    mode, epochs, lr, batch_size, seed = (settings[k] for k in ("mode", "epochs", "lr", "batch_size", "seed"))
    lora_r, max_length = settings["lora_r"], settings["max_length"]
    stats: dict[str, Any] = {"finetune_fingerprint": fp}
    if fp in _DONE:  # the same fold, settings and seed in this process: the same weights
        backend.model, backend.finetune_id = _DONE[fp], fp
        stats.update(finetune_seconds=0.0, finetune_reused=True)
        return stats

    tok, device = backend.tokenizer, backend.device
    eos = tok.eos_token_id
    seqs = [tok(t, add_special_tokens=False)["input_ids"][: max_length - 1] + [eos] for t in texts]
    t0 = time.perf_counter()
    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        model = copy.deepcopy(backend.model)  # the loaded base stays untouched for in-context use
        if mode == "lora":
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0, target_modules="all-linear",
                                task_type="CAUSAL_LM")
            with warnings.catch_warnings():  # peft 0.21 calls a transformers API deprecated in 5.x
                warnings.simplefilter("ignore", FutureWarning)
                model = get_peft_model(model, config)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        order = torch.Generator().manual_seed(seed)
        steps = epochs * -(-len(seqs) // batch_size)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10)))
        losses = []
        for _ in range(epochs):
            perm = torch.randperm(len(seqs), generator=order).tolist()
            for i in range(0, len(perm), batch_size):
                batch = [seqs[j] for j in perm[i:i + batch_size]]
                loss = backward(model, batch, eos, device, torch)
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                losses.append(loss)
        if mode == "lora":
            model = model.merge_and_unload()
        model.eval()
    _DONE.clear()
    _DONE[fp] = model
    backend.model, backend.finetune_id = model, fp
    tail = losses[-max(1, len(losses) // 10):]
    stats.update(finetune_seconds=time.perf_counter() - t0, finetune_steps=len(losses),
                 finetune_loss=sum(tail) / len(tail), finetune_reused=False)
    return stats


def backward(model: Any, batch: list[list[int]], pad_id: int, device: str, torch: Any) -> float:
    """Add the gradients of ``batch``'s mean token loss to ``model``'s, in parts of at most ``MICRO_TOKENS``
    padded tokens; return the loss. Each part's mean is weighted by its share of the batch's target tokens, so
    the parts add up to the whole batch's gradient."""
    targets = sum(len(s) - 1 for s in batch)  # a record of n tokens predicts n - 1 of them
    total = 0.0
    for part in micro_batches(batch, MICRO_TOKENS):
        ids, mask = _pad(part, pad_id, torch)
        labels = ids.masked_fill(mask == 0, -100)
        out = model(input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device))
        loss = out.loss * (sum(len(s) - 1 for s in part) / targets)
        loss.backward()
        total += loss.item()
    return total


def micro_batches(batch: list[list[int]], max_tokens: int) -> list[list[list[int]]]:
    """Split ``batch`` in order into parts of at most ``max_tokens`` padded tokens (at least one record each)."""
    parts: list[list[list[int]]] = [[]]
    for seq in batch:
        part = parts[-1]
        if part and (len(part) + 1) * max(len(seq), *map(len, part)) > max_tokens:
            parts.append(part := [])
        part.append(seq)
    return parts


def _pad(batch: list[list[int]], pad_id: int, torch: Any) -> tuple[Any, Any]:
    """Right-padded token ids and the attention mask of ``batch``."""
    width = max(map(len, batch))
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for r, s in enumerate(batch):
        ids[r, : len(s)] = torch.tensor(s)
        mask[r, : len(s)] = 1
    return ids, mask
