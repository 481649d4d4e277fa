"""OPAL: oversampling with rows written by a language model (arXiv 2406.03628), on the shared generative base.

For each cell being grown (a class, or a (class, group) pair in group-aware mode), OPAL shows the model a window
of real records of that cell and asks for K new ones (in-context, the paper's mode), or, after fine-tuning the
model on the training fold's records (GReaT style), samples records from the prefix ``"label is 1,"``. Replies
are parsed and validated (:mod:`methods.opal.parse`); rows of another cell and exact copies of real rows are
counted and dropped; calls go on until the cell has its rows or its budget is spent.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from bench.generative import GenerativeOversampler
from methods.opal.backends import Reply, make_backend
from methods.opal.cache import ReplyCache
from methods.opal import params
from methods.opal.finetune import finetune, fingerprint, settings_for
from methods.opal.grammar import ebnf, order_of
from methods.opal.parse import GROUP, LABEL, Schema
from methods.opal.prompt import (conditioning_order, conditioning_prefix, in_context_messages, plain_name,
                                 window_rows)
from methods.opal.report import ENGINE_STATS, rejections, summary


class Opal(GenerativeOversampler):
    """Oversampling with LLM-written rows.

    Parameters
    ----------
    backend : {"transformers", "openai"}
        A local causal LM in-process, or any OpenAI-compatible chat endpoint. Both get the same prompts.
    model : str
        transformers: ``"smollm2-135m"`` (default, packaged), ``"gemma3-270m"``, ``"tiny-test"`` (an untrained
        test model), a local folder, a ``.gguf`` file or a hub id. openai: the model name on the server.
    base_url, api_key_env : str
        openai backend: server URL (default ``$OPENAI_BASE_URL``) and the environment variable with the key.
    description : str
        What a row is, in plain words. Default: the dataset's ``description`` from the suite (given by the runner
        through ``bind``); else the column names are used.
    feature_descriptions : dict, optional
        Column name -> plain words, shown in the prompt.
    k : int, optional
        Records asked of each in-context reply (default: 2 on a local model, many short sequences decoded
        together; 10 on openai, as in the paper; see :mod:`methods.opal.params`).
    window, window_mode : int, {"cell", "balanced"}
        Real records shown per call: all from the grown cell, or the same number from every cell (the
        paper's alternating window); the model is asked for records of the grown cell either way.
    temperature, top_p, max_new_tokens : sampling; ``max_new_tokens`` defaults to what K records need.
    batch_size : int, optional
        Sequences per backend call (default: 128 on the transformers backend, 1 for openai).
    permute : bool
        Write the features of each shown or trained record in a random order (as GReaT does).
    constrained : bool, optional
        Decode under a grammar built from the schema (:mod:`methods.opal.grammar`): every record is complete,
        typed, with the cell's label. Default: on for the transformers backend, off for openai (which cannot).
        ``False`` is the paper's free-text procedure.
    serialization : {"sentence", "compact"}
        ``"sentence"``: the paper's ``feature is value, ...``; ``"compact"``: a header line once, then values
        only (in-context mode; about half the tokens per record).
    engine : {"shared-prefix", "lockstep", "generate", "llama.cpp"}
        transformers backend: sample the replies to one prompt as one batch over a prompt computed once,
        the tokens a grammar forces written without a step of their own (:mod:`methods.opal.engine`); the
        same engine one token per step (``"lockstep"``); lockstep on llama.cpp with the GGUF's quantized
        weights (:mod:`methods.opal.llamacpp`; in-context mode; ``make llama`` builds it); or transformers'
        ``generate``. The last three are references for the speed benchmark.
    samples_per_window : int, optional
        In-context replies drawn per prompt (window); default 32 on the transformers backend, 1 on openai.
    finetune : {"none", "lora", "full"}
        Fine-tune the model on the training fold's records before sampling (transformers backend only).
    finetune_epochs, finetune_lr, finetune_batch_size, lora_r : fine-tuning settings.
    finetune_rows : {"all", "grown"}
        Fine-tune on every training row, each record led by its label (GReaT style, the default), or on the rows
        of the cells being grown only: the records the model will be asked to write, at a fraction of the
        training cost where the minority is small (training is most of a fine-tuned cell's time on a CPU).
    range_margin : float
        Numbers are valid within this fraction of the training range beyond its ends.
    drop_copies : bool
        Drop generated rows equal to a real training row (they are counted either way).
    max_calls, max_tokens, max_seconds : budget per grown cell (prompts sent, prompt + completion tokens,
        LLM seconds as spent when the reply was made, cached or not); ``None`` means no limit of that kind,
        except for ``max_calls``, whose default asks for 8 times the records the cell needs on a local model
        (a 12.5 % acceptance floor), 4 times on openai, plus 10 prompts (:func:`methods.opal.params.max_calls`).
        A cell whose budget runs out before it has its rows fails with a RuntimeError that says so (the base
        guarantees exactly the rows asked for, or a clear error); the runner records it as the cell's error.
    cache, cache_dir : bool, str
        Reuse replies from the disk cache (default ``<repo>/results/llm-cache`` or ``$BENCH_LLM_CACHE``);
        ``cache=False`` neither reads nor writes it.
    device, threads : where a transformers model runs, and torch threads while it does (``None``: unchanged).

    Examples
    --------
    >>> from methods.opal.method import Opal
    >>> sampler = Opal(model="smollm2-135m", k=10, max_seconds=300, random_state=0)  # doctest: +SKIP
    >>> X_res, y_res = sampler.fit_resample(X, y)  # doctest: +SKIP
    >>> sampler.report_["rows_accepted"], sampler.report_["calls"]  # doctest: +SKIP
    """

    exact_counts = True

    def __init__(self, *, backend: str = "transformers", model: str = "smollm2-135m", base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", description: str = "",
                 feature_descriptions: dict[str, str] | None = None, k: int | None = None, window: int = 10,
                 window_mode: str = "cell", temperature: float = 0.6, top_p: float = 1.0,
                 max_new_tokens: int | None = None, batch_size: int | None = None, permute: bool = False,
                 constrained: bool | None = None, serialization: str = "sentence", engine: str = "shared-prefix",
                 samples_per_window: int | None = None, finetune: str = "none", finetune_epochs: int = 3, finetune_lr: float | None = None,
                 finetune_batch_size: int = 8, lora_r: int = 16, finetune_rows: str = "all",
                 range_margin: float = 0.1,
                 drop_copies: bool = True, max_calls: int | None = None, max_tokens: int | None = None,
                 max_seconds: float | None = None, cache: bool = True,
                 cache_dir: str | None = None, device: str = "auto", threads: int | None = None,
                 strategy: str = "per_cell", measure_quality: bool = True, ratio: float = 1.0,
                 group_column: str | None = None, random_state: int | None = None):
        super().__init__(strategy=strategy, measure_quality=measure_quality, ratio=ratio,
                         group_column=group_column, random_state=random_state)
        self.backend, self.model, self.base_url, self.api_key_env = backend, model, base_url, api_key_env
        self.description, self.feature_descriptions = description, feature_descriptions
        self.k, self.window, self.window_mode = k, window, window_mode
        self.temperature, self.top_p, self.max_new_tokens, self.batch_size = temperature, top_p, max_new_tokens, batch_size
        self.permute = permute
        self.constrained, self.serialization, self.engine = constrained, serialization, engine
        self.samples_per_window = samples_per_window
        self.finetune, self.finetune_epochs, self.finetune_lr = finetune, finetune_epochs, finetune_lr
        self.finetune_batch_size, self.lora_r, self.finetune_rows = finetune_batch_size, lora_r, finetune_rows
        self.range_margin, self.drop_copies = range_margin, drop_copies
        self.max_calls, self.max_tokens, self.max_seconds = max_calls, max_tokens, max_seconds
        self.cache, self.cache_dir = cache, cache_dir
        self.device, self.threads = device, threads

    # -- hooks into the base ------------------------------------------------------------------------------
    def bind(self, context) -> None:
        """The runner's context: take the dataset's plain-words description for the prompts."""
        self._bound_description = getattr(context.dataset, "description", "") or ""

    def _cells(self, X, y):
        """Remember the cells table and the label's name: records carry the label (and group) as text."""
        cells, strata = super()._cells(X, y)
        self._cell_table, self._label_name = cells, str(y.name)
        return cells, strata

    def _generate(self, X, strata, needed):
        params.check(self)
        X, strata = X.reset_index(drop=True), strata.reset_index(drop=True)
        self._strata_all = strata.to_numpy()
        self._prepare(X)
        saved = None
        if self.threads:
            import torch

            saved = torch.get_num_threads()
            torch.set_num_threads(int(self.threads))
        try:
            self._llm = make_backend(self.backend, self.model, base_url=self.base_url,
                                     api_key_env=self.api_key_env, device=self.device, engine=self.engine)
            self._grammars: dict[int, str] = {}
            self._cache = ReplyCache(self.cache_dir, enabled=self.cache)
            self._stats: Counter = Counter()
            self._spent: dict[int, Counter] = {}  # per grown cell, across the base's sample rounds
            self._rngs: dict[int, np.random.Generator] = {}
            self._ft: dict[str, Any] = {}
            self._pending_finetune = None
            if self.finetune != "none":
                # Fine-tuning is deterministic, so its fingerprint names the weights before they exist: training
                # waits for the first call the cache cannot answer, and a fully cached re-run trains nothing.
                rng = np.random.default_rng(self.seed(17))
                texts = [self._schema.serialize(r, conditioning_order(self._schema, self._feature_order(rng)))
                         for r, cell in zip(self._records, self._strata_all)
                         if self.finetune_rows == "all" or cell in needed]
                settings = settings_for(mode=self.finetune, epochs=self.finetune_epochs, lr=self.finetune_lr,
                                        batch_size=self.finetune_batch_size, seed=self.seed(23), lora_r=self.lora_r)
                fp = fingerprint(self._llm.model_id, texts, settings)
                self._pending_finetune = (texts, settings, fp)
                self._llm.finetune_id = fp
                self._ft = {"finetune_fingerprint": fp, "finetune_seconds": 0.0, "finetune_records": len(texts)}
            self._new_tokens = self.max_new_tokens or self._auto_new_tokens()
            new, codes = super()._generate(X, strata, needed)
        finally:
            if saved is not None:
                import torch

                torch.set_num_threads(saved)
        if self._pending_finetune is not None:  # every reply came from the cache: the weights were not trained
            trained = self._cache.get({"finetune": self._pending_finetune[2]}) or {}
            self._stats["replayed_seconds"] += float(trained.get("finetune_seconds", 0.0))
        self.report_.update(self._summary(self._ft))
        return new, codes

    def _fit(self, X, condition_column):
        if condition_column is None:  # per_cell: X holds one cell's rows, with positional index (see _generate)
            self._current = int(self._strata_all[X.index[0]])

    def _sample(self, n, condition):
        cell = int(condition) if condition is not None else self._current
        rows = self._grow(cell, n)
        keys = [c.key for c in self._schema.features]
        return pd.DataFrame([{k: r[k] for k in keys} for r in rows], columns=keys)

    # -- setup --------------------------------------------------------------------------------------------
    def _prepare(self, X: pd.DataFrame) -> None:
        """The schema of the records and every real record (features, group, label) of the training fold."""
        cells, grouped = self._cell_table, self.group_column is not None
        features = {str(c) for c in X.columns}
        label_name = self._label_name if self._label_name not in features | {"", "None"} else "label"
        group_name = None
        if grouped:
            group_name = plain_name(self.group_column) or "group"
            group_name = group_name if group_name not in features | {label_name} else "group attribute"
        self._schema = Schema(X, label_name, list(pd.unique(cells["label"])), group_name,
                              list(pd.unique(cells["group"])) if grouped else None, self.range_margin)
        labels = cells["label"].to_numpy()[self._strata_all]
        groups = cells["group"].to_numpy()[self._strata_all]
        self._records = X.to_dict("records")
        for i, r in enumerate(self._records):
            r[LABEL] = labels[i]
            if grouped:
                r[GROUP] = groups[i]
        self._real = {self._schema.canonical(r) for r in self._records}

    def _feature_order(self, rng: np.random.Generator) -> list[str]:
        keys = [c.key for c in self._schema.features]
        return [keys[i] for i in rng.permutation(len(keys))] if self.permute else keys

    @property
    def _constrained(self) -> bool:
        return self.backend == "transformers" if self.constrained is None else bool(self.constrained)

    def _order(self) -> list[str]:
        """Column keys in the order the grammar and the compact form write them."""
        return order_of(self._schema, [c.key for c in self._schema.features], label_first=False)

    def _auto_new_tokens(self) -> int:
        sample = self._records[:: max(1, len(self._records) // 20)]
        write = (lambda r: self._schema.serialize_compact(r, self._order())) if self.serialization == "compact" \
            else self._schema.serialize
        per_record = max(self._llm.count_tokens(write(r) + "\n") for r in sample)
        if self.finetune != "none":
            return int(1.5 * per_record) + 8
        return int(1.3 * params.records_per_call(self) * per_record) + 16

    # -- generation ---------------------------------------------------------------------------------------
    def _target(self, cell: int) -> dict[str, Any]:
        row = self._cell_table.iloc[cell]
        target = {LABEL: row["label"]}
        if self.group_column is not None:
            target[GROUP] = row["group"]
        return target

    def _grow(self, cell: int, n: int) -> list[dict[str, Any]]:
        """Call the model until ``n`` valid rows of ``cell`` exist; fail clearly when the cell's budget is spent."""
        target, schema = self._target(cell), self._schema
        rng = self._rngs.setdefault(cell, np.random.default_rng(self.seed(7919 * (cell + 1))))
        spent = self._spent.setdefault(cell, Counter())
        if "max_calls" not in spent:
            spent["max_calls"] = params.max_calls(self, n)
        accepted: list[dict[str, Any]] = []
        while len(accepted) < n:
            stop = self._over_budget(spent)
            if stop:
                self._stats["rows_accepted"] += len(accepted)
                self.report_.update(self._summary(self._ft))
                where = ", ".join(f"{c.name}={c.format(target[c.key])}" for c in schema.columns if c.key in target)
                raise RuntimeError(
                    f"opal: budget {stop} spent for cell {where} with {n - len(accepted)} of {n} rows still to make "
                    f"({spent['calls']} calls, {spent['tokens']} tokens, {spent['seconds']:.0f} s; rows generated "
                    f"{self._stats['rows_generated']}, accepted {self._stats['rows_accepted']}, "
                    f"rejected {self._rejections()}); raise the budget, fine-tune, or use a larger model")
            prompts = self._prompts(cell, target, rng, self._batch(n - len(accepted), spent))
            grammars = [self._grammar(cell, target)] * len(prompts) if self._constrained else None
            replies = self._call(prompts, self.seed(1_000_003 * (cell + 1) + spent["batches"]), grammars)
            spent["batches"] += 1
            for prompt, reply in zip(prompts, replies):
                spent["calls"] += 1
                spent["tokens"] += reply.prompt_tokens + reply.completion_tokens
                spent["seconds"] += reply.seconds
                text = prompt + reply.text if isinstance(prompt, str) else reply.text
                if self.serialization == "compact":
                    rows, counts = schema.parse_compact(text, self._order(), reply.truncated)
                else:
                    rows, counts = schema.parse(text, reply.truncated)
                self._stats.update({f"rejected.{k}" if k != "extra_text_lines" else k: v for k, v in counts.items()})
                self._stats["rows_generated"] += len(rows) + sum(v for k, v in counts.items() if k != "extra_text_lines")
                for row in rows:
                    if any(row[k] != v for k, v in target.items()):
                        self._stats["rejected.other_cell"] += 1
                    elif schema.canonical(row) in self._real:
                        self._stats["copies"] += 1
                        if self.drop_copies:
                            self._stats["rejected.copy"] += 1
                        else:
                            accepted.append(row)
                    else:
                        accepted.append(row)
        self._stats["rows_accepted"] += len(accepted)
        self._stats["rows_surplus"] += len(accepted) - n
        return accepted[:n]

    def _over_budget(self, spent: dict[str, float]) -> str:
        for name, limit, used in (("max_calls", spent["max_calls"], spent["calls"]),
                                  ("max_tokens", self.max_tokens, spent["tokens"]),
                                  ("max_seconds", self.max_seconds, spent["seconds"])):
            if limit is not None and used >= limit:
                return f"{name}={limit}"
        return ""

    def _batch(self, remaining: int, spent: dict[str, float]) -> int:
        if self.finetune != "none":
            want = math.ceil(remaining * 1.25)
        else:  # a few more records than needed: some are rejected (range, copies)
            want = math.ceil(remaining * 1.1 / params.records_per_call(self))
        b = min(params.sequences_per_call(self), int(spent["max_calls"] - spent["calls"]))
        return max(1, min(b, want))

    def _prompts(self, cell: int, target: dict[str, Any], rng: np.random.Generator, n: int) -> list:
        """``n`` prompts: each window drawn once and asked ``samples_per_window`` times (a shared prefix)."""
        if self.finetune != "none":
            return [self._prompt(cell, target, rng)] * n
        per = params.replies_per_window(self)
        out: list = []
        while len(out) < n:
            out += [self._prompt(cell, target, rng)] * min(per, n - len(out))
        return out

    def _grammar(self, cell: int, target: dict[str, Any]) -> str:
        if cell not in self._grammars:
            if self.finetune != "none":  # the prefix holds label (and group); the model continues the features
                feats = [c.key for c in self._schema.features]
                self._grammars[cell] = ebnf(self._schema, {}, feats, k=1, lead=" ")
            else:
                self._grammars[cell] = ebnf(self._schema, target, self._order(), serialization=self.serialization,
                                            k=params.records_per_call(self))
        return self._grammars[cell]

    def _prompt(self, cell: int, target: dict[str, Any], rng: np.random.Generator):
        if self.finetune != "none":
            return conditioning_prefix(self._schema, target)
        picks = window_rows(self._strata_all, cell, len(self._cell_table), self.window, self.window_mode, rng)
        tail = [k for k in (GROUP, LABEL) if k in {c.key for c in self._schema.columns}]
        description = self.description or getattr(self, "_bound_description", "")
        if self.serialization == "compact":  # one header, the columns in a fixed order
            window = [self._schema.serialize_compact(self._records[i], self._order()) for i in picks]
            return in_context_messages(self._schema, window, params.records_per_call(self), target, description, self.feature_descriptions,
                                       header=self._schema.header(self._order()))
        window = [self._schema.serialize(self._records[i], self._feature_order(rng) + tail) for i in picks]
        return in_context_messages(self._schema, window, params.records_per_call(self), target, description, self.feature_descriptions)

    def _call(self, prompts: list, seed: int, grammars: list[str] | None = None) -> list[Reply]:
        request = {"backend": self._llm.name, "model": self._llm.model_id, "prompts": prompts,
                   "temperature": self.temperature, "top_p": self.top_p, "max_new_tokens": self._new_tokens,
                   "seed": seed}
        if grammars is not None:  # constrained replies are other replies (the key of free text is unchanged)
            request["grammars"] = grammars
        if getattr(self._llm, "engine", "generate") != "generate":
            request["engine"] = self._llm.engine
        hit = self._cache.get(request)
        if hit is not None:
            self._stats["cached_calls"] += len(prompts)
            replies = [Reply(**r) for r in hit]
            self._stats["replayed_seconds"] += sum(r.seconds for r in replies)
        else:
            if self._pending_finetune is not None:
                texts, settings, fp = self._pending_finetune
                self._pending_finetune = None
                self._ft = {"finetune_records": len(texts), **finetune(self._llm, texts, settings, fp)}
                self._cache.put({"finetune": fp}, self._ft)  # what training cost, for a re-run that skips it
            replies = self._llm.complete(prompts, temperature=self.temperature, top_p=self.top_p,
                                         max_new_tokens=self._new_tokens, seed=seed, grammars=grammars)
            stats = getattr(self._llm, "last_stats", None)
            if stats is not None:  # where the LLM time went (the speed benchmark reads these)
                for key in ENGINE_STATS:
                    self._stats[key] += getattr(stats, key)
            self._cache.put(request, [asdict(r) for r in replies])
        for r in replies:
            self._stats["calls"] += 1
            self._stats["prompt_tokens"] += r.prompt_tokens
            self._stats["completion_tokens"] += r.completion_tokens
            self._stats["llm_seconds"] += r.seconds
        return replies

    # -- reporting ----------------------------------------------------------------------------------------
    def _rejections(self) -> dict[str, int]:
        return rejections(self._stats)

    def _summary(self, ft: dict[str, Any]) -> dict[str, Any]:
        return {"backend": self.backend, "model": self._llm.model_id,
                "mode": "fine-tuned" if self.finetune != "none" else "in-context",
                "constrained": self._constrained, "serialization": self.serialization,
                "engine": getattr(self._llm, "engine", "openai"), **summary(self._stats), **ft}
