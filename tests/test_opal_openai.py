"""OPAL's openai backend end to end, against a real OpenAI-compatible server on loopback.

The server is ``transformers serve`` with the tiny test model (a real GPT-2, untrained, so its replies are
noise): the test checks the plumbing (requests, replies, token usage, budget, cache), not row quality.
Starting the server takes ~7 s on an idle 2-core machine (55 s at a load average of 9), the module ~12 s in all.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the loopback server needs transformers[serving] (the test extra)")
pytest.importorskip("openai")

from methods.opal.backends import OpenAIBackend
from methods.opal.method import Opal
from methods.opal.models import tiny_model_dir
from tests.test_opal import data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Start ``transformers serve`` on a free loopback port; yield (base_url, model); stop it."""
    model = tmp_path_factory.mktemp("served") / "tiny"
    shutil.copytree(tiny_model_dir(), model)
    port = free_port()
    exe = Path(sys.executable).with_name("transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path_factory.mktemp("hub"))}
    with open(tmp_path_factory.mktemp("log") / "serve.log", "w+") as log:
        proc = subprocess.Popen([str(exe), "serve", str(model), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 180
            while not _healthy(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"transformers serve did not start:\n{log.read()[-3000:]}")
                time.sleep(1)
            yield f"http://127.0.0.1:{port}/v1", str(model)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_backend_talks_to_the_server(server):
    base_url, model = server
    backend = OpenAIBackend(model, base_url=base_url, api_key_env="OPAL_TEST_NO_SUCH_KEY")
    messages = [{"role": "system", "content": "You write records."}, {"role": "user", "content": "x is 1."}]
    [reply] = backend.complete([messages], temperature=0.6, top_p=1.0, max_new_tokens=8, seed=0)
    assert isinstance(reply.text, str) and reply.prompt_tokens > 0 and 0 < reply.completion_tokens <= 8
    assert reply.seconds > 0 and backend.model_id == f"{base_url}|{model}"


def test_opal_through_the_server_counts_budgets_and_caches(server, tmp_path, monkeypatch):
    base_url, model = server
    X, y = data()
    params = {"backend": "openai", "model": model, "base_url": base_url, "k": 2, "window": 2, "max_calls": 2,
              "max_new_tokens": 16, "cache_dir": str(tmp_path), "measure_quality": False, "random_state": 0}
    first = Opal(**params)
    with pytest.raises(RuntimeError, match="max_calls=2") as err:  # an untrained model writes no valid record
        first.fit_resample(X, y)
    r = first.report_
    assert r["backend"] == "openai" and r["calls"] == 2 and r["cached_calls"] == 0
    assert r["prompt_tokens"] > 100 and r["completion_tokens"] > 0 and r["rows_accepted"] == 0
    assert len(list(tmp_path.rglob("*.json"))) == 2  # one cached reply per call

    def offline(*a, **k):
        raise AssertionError("the server was called despite the cache")

    monkeypatch.setattr(OpenAIBackend, "complete", offline)
    again = Opal(**params)
    with pytest.raises(RuntimeError) as err_again:
        again.fit_resample(X, y)
    assert str(err_again.value).split(" s;")[1:] == str(err.value).split(" s;")[1:]
    assert again.report_["cached_calls"] == 2 and again.report_["prompt_tokens"] == r["prompt_tokens"]
