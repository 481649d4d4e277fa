# The two commands a newcomer needs: `make bench` and `make test`. Both set everything up from nothing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check --constraint constraints.txt
STAMP := $(VENV)/.installed
SUITE ?= quick
ARGS ?=

.PHONY: setup bench test test-slow leaderboard lint clean

# Reinstall only when the dependency pins or the package metadata change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0   # first, so nothing below can pull a multi-GB CUDA torch
	$(PIP) -e ".[test]"
	touch $@

setup: $(STAMP)

bench: setup  ## run the default suite and write its leaderboard
	$(VENV)/bin/bench run $(SUITE) $(ARGS)
	$(VENV)/bin/bench leaderboard $(SUITE)

leaderboard: setup
	$(VENV)/bin/bench leaderboard $(SUITE)

test: setup  ## the fast tests (under 15 minutes)
	$(VENV)/bin/pytest -m "not slow" $(ARGS)

test-slow: setup  ## the slow tests (real training runs, full-mirror checks)
	$(VENV)/bin/pytest -m slow $(ARGS)

clean:
	rm -rf $(VENV) results/*.sqlite*
