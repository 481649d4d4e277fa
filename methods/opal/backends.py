"""The language models OPAL calls, behind one small interface; both take the same prompts.

- ``openai``: any OpenAI-compatible chat-completions endpoint through the official ``openai`` client (the
  paper's GPT-4 Turbo; also vLLM, Ollama, llama.cpp and ``transformers serve``).
- ``transformers``: a local causal LM in-process, batched, with the model's chat template when it has one, on
  the GPU when torch sees one. It can also be fine-tuned on the training rows (:mod:`methods.opal.finetune`).

Heavy imports happen inside the functions that need them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from methods.opal.models import gguf_file, resolve_model
from methods.opal.prompt import Messages, merge_consecutive

Prompt = Messages | str  # chat messages, or raw text to continue (a fine-tuned model's record prefix)


@dataclass
class Reply:
    """One completion: its text, whether the token limit cut it, and what it cost."""

    text: str
    truncated: bool
    prompt_tokens: int
    completion_tokens: int
    seconds: float = 0.0


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server.

    Parameters
    ----------
    model : str
        Model name as the server knows it.
    base_url : str, optional
        Server URL (``http://127.0.0.1:8000/v1``); default ``$OPENAI_BASE_URL``, else OpenAI's.
    api_key_env : str
        Environment variable holding the key. Local servers accept any key, so it may be unset when a
        ``base_url`` is given.
    """

    name = "openai"

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 600.0, send_seed: bool = True):
        import openai

        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        key = os.environ.get(api_key_env)
        if not key:
            if not self.base_url:
                raise RuntimeError(f"the openai backend needs an API key in ${api_key_env} (or a local base_url)")
            key = "none"  # local OpenAI-compatible servers ignore the key
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=timeout, max_retries=2)
        self.send_seed = send_seed

    @property
    def model_id(self) -> str:
        return f"{self.base_url or 'openai'}|{self.model}"

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 3)  # no tokenizer at hand; ~3 characters per token for records of numbers

    def complete(self, prompts: list[Prompt], *, temperature: float, top_p: float, max_new_tokens: int,
                 seed: int, grammars: list[str] | None = None) -> list[Reply]:
        if grammars is not None:
            raise ValueError("the openai backend cannot constrain decoding here; use constrained: false")
        out = []
        for i, messages in enumerate(prompts):
            if isinstance(messages, str):
                raise TypeError("the openai backend takes chat messages; fine-tuning needs backend='transformers'")
            extra: dict[str, Any] = {"seed": seed + i} if self.send_seed else {}
            t0 = time.perf_counter()
            r = self.client.chat.completions.create(model=self.model, messages=messages, temperature=temperature,
                                                    top_p=top_p, max_tokens=max_new_tokens, **extra)
            choice = r.choices[0]
            usage = r.usage
            out.append(Reply(text=choice.message.content or "", truncated=choice.finish_reason == "length",
                             prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                             completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                             seconds=time.perf_counter() - t0))
        return out


_LOADED: dict[tuple, tuple[Any, Any]] = {}  # per process: (path, gguf, device) -> (tokenizer, model)


def load_tokenizer(model: str) -> Any:
    """The model's tokenizer alone (left padding; the end token pads when the model has no pad token)."""
    from transformers import AutoTokenizer

    path, gguf = resolve_model(model)
    tok = AutoTokenizer.from_pretrained(path, gguf_file=gguf) if gguf else AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(model: str, device: str = "auto") -> tuple[Any, Any, str]:
    """Load (once per process) a tokenizer and causal LM; return them and the device."""
    import torch
    from transformers import AutoModelForCausalLM

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    path, gguf = resolve_model(model)
    key = (path, gguf, device)
    if key not in _LOADED:
        tok = load_tokenizer(model)
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        kw = {"gguf_file": gguf} if gguf else {}
        lm = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kw).to(device).eval()
        if len(_LOADED) >= 2:
            _LOADED.clear()
        _LOADED[key] = (tok, lm)
    tok, lm = _LOADED[key]
    return tok, lm, device


class TransformersBackend:
    """A local causal LM, in-process.

    Parameters
    ----------
    model : str
        A name from :mod:`methods.opal.models` (``smollm2-135m``, ``gemma3-270m``, ``tiny-test``), a local
        folder, a ``.gguf`` file, or a hub id.
    device : str
        ``"auto"`` (GPU when torch sees one), ``"cpu"``, ``"cuda"``...
    engine : {"shared-prefix", "lockstep", "generate", "llama.cpp"}
        How replies are sampled (see :meth:`complete`); ``"llama.cpp"`` runs the model's GGUF file in
        llama.cpp (:mod:`methods.opal.llamacpp`, installed by ``make llama``) and loads no torch weights.
    """

    name = "transformers"

    def __init__(self, model: str, device: str = "auto", engine: str = "shared-prefix"):
        from methods.opal.engine import supports

        self.model_name = model
        self.finetune_id = ""  # set when fine-tuned weights replace the base model
        self.last_stats = None
        if engine == "llama.cpp":  # the GGUF's quantized weights in llama.cpp; the tokenizer from transformers
            from methods.opal.llamacpp import LlamaCppEngine

            self._llama = LlamaCppEngine(gguf_file(model))
            self.tokenizer, self.model, self.device, self.engine = load_tokenizer(model), None, "cpu", engine
            self.vocab_size = self._llama.n_vocab
            return
        self.tokenizer, self.model, self.device = load_causal_lm(model, device)
        self.vocab_size = self.model.config.vocab_size
        # Architectures the shared-prefix attention does not know fall back to transformers' generate.
        self.engine = engine if engine not in ("shared-prefix", "lockstep") or supports(self.model) else "generate"

    @property
    def model_id(self) -> str:
        return self.model_name + (f"+ft:{self.finetune_id}" if self.finetune_id else "")

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render(self, prompt: Prompt) -> str:
        """Chat messages through the model's chat template (plain text when it has none)."""
        if isinstance(prompt, str):
            return prompt
        from jinja2 import TemplateError

        if not getattr(self.tokenizer, "chat_template", None):
            return "\n\n".join(m["content"] for m in prompt) + "\n\n"
        try:
            return self.tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
        except TemplateError:  # templates that insist on alternating roles (Gemma's) get one user message
            return self.tokenizer.apply_chat_template(merge_consecutive(prompt), add_generation_prompt=True,
                                                      tokenize=False)

    def complete(self, prompts: list[Prompt], *, temperature: float, top_p: float, max_new_tokens: int,
                 seed: int, grammars: list[str] | None = None) -> list[Reply]:
        """One reply per prompt; ``grammars`` (xgrammar EBNF, one per prompt) constrain what each may write.

        ``engine="shared-prefix"`` (default) computes each distinct prompt once and samples all its replies in
        one batch, writing the tokens a grammar forces without a step of their own (:mod:`methods.opal.engine`);
        ``"lockstep"`` is the same engine one token per sequence per step; ``"llama.cpp"`` does the same as
        lockstep on llama.cpp; ``"generate"`` is transformers' ``generate``. The last three are kept as the
        references the speed benchmark compares against.
        """
        texts = [self.render(p) for p in prompts]
        t0 = time.perf_counter()
        if self.engine in ("shared-prefix", "lockstep", "llama.cpp"):
            from methods.opal.engine import MAX_CHUNK, SharedPrefixEngine

            ids = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
            engine = self._llama if self.engine == "llama.cpp" else SharedPrefixEngine(
                self.model, self.tokenizer, max_chunk=1 if self.engine == "lockstep" else MAX_CHUNK)
            new, finished, stats = engine.generate(ids, max_new_tokens=max_new_tokens, temperature=temperature,
                                                   top_p=top_p, seed=seed, constraints=self._constraints(grammars))
            self.last_stats = stats
            prompt_tokens = [len(i) for i in ids]
        else:
            new, finished, prompt_tokens = self._generate(texts, temperature, top_p, max_new_tokens, seed, grammars)
        seconds = time.perf_counter() - t0
        eos = self.tokenizer.eos_token_id
        return [Reply(text=self.tokenizer.decode([t for t in ids if t != eos], skip_special_tokens=True),
                      truncated=not done, prompt_tokens=int(n), completion_tokens=len(ids), seconds=seconds / len(new))
                for ids, done, n in zip(new, finished, prompt_tokens)]

    def _constraints(self, grammars: list[str] | None):
        if grammars is None:
            return None
        from methods.opal.grammar import GrammarConstraints

        return GrammarConstraints(self.tokenizer, self.vocab_size, grammars)

    def _generate(self, texts, temperature, top_p, max_new_tokens, seed, grammars):
        import torch

        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        eos = self.tokenizer.eos_token_id
        devices = [torch.device(self.device).index or 0] if self.device.startswith("cuda") else []
        extra = {}
        if grammars is not None:
            from methods.opal.grammar import hf_logits_processor

            extra["logits_processor"] = [hf_logits_processor(self.tokenizer, self.vocab_size, grammars)]
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)  # local to this call: the global RNG state is restored afterwards
            sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else \
                {"do_sample": False}
            out = self.model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                                      eos_token_id=eos, **sampling, **extra)
        new, finished = [], []
        for ids in out[:, enc["input_ids"].shape[1]:].tolist():
            n, ended = len(ids), False
            if eos in ids:
                n, ended = ids.index(eos) + 1, True
            new.append(ids[:n])
            finished.append(ended)
        return new, finished, enc["attention_mask"].sum(dim=1).tolist()


def make_backend(backend: str, model: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 device: str = "auto", engine: str = "shared-prefix") -> OpenAIBackend | TransformersBackend:
    if backend == "openai":
        return OpenAIBackend(model, base_url=base_url, api_key_env=api_key_env)
    if backend == "transformers":
        return TransformersBackend(model, device=device, engine=engine)
    raise ValueError(f"backend must be 'openai' or 'transformers', not {backend!r}")
