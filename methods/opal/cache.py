"""A disk cache of LLM replies, so a re-run of a sweep reproduces OPAL's rows exactly and costs nothing.

The key hashes everything that determines a reply: backend, model (including a fine-tune fingerprint), the
prompts, the sampling parameters and the seed. One JSON file per call, written atomically, so concurrent
workers and interrupted runs never leave a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from methods.opal.models import REPO_ROOT


def default_cache_dir() -> Path:
    """``<repo>/results/llm-cache``, or ``$BENCH_LLM_CACHE``."""
    return Path(os.environ.get("BENCH_LLM_CACHE") or REPO_ROOT / "results" / "llm-cache")


def cache_key(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


class ReplyCache:
    """``get``/``put`` JSON-able replies by request; ``enabled=False`` makes both no-ops (the bypass flag)."""

    def __init__(self, directory: str | Path | None = None, enabled: bool = True):
        self.directory = Path(directory) if directory else default_cache_dir()
        self.enabled = enabled

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, request: dict[str, Any]) -> Any | None:
        if not self.enabled:
            return None
        path = self._path(cache_key(request))
        try:
            return json.loads(path.read_text())["reply"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return None

    def put(self, request: dict[str, Any], reply: Any) -> None:
        if not self.enabled:
            return
        path = self._path(cache_key(request))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as f:
            json.dump({"request": request, "reply": reply}, f)
        os.replace(tmp, path)
