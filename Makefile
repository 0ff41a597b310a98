# Two commands do all the set-up: `make run` serves, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench screenshots clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/gunicorn --bind '$(HOST):$(PORT)' --access-logfile - --control-socket $(VENV)/gunicorn.ctl 'app:create_app()'

# The browser tests drive Debian's Chromium; install it once if it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests…"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
	  || echo "Could not install chromium; the browser tests will be skipped."; }

test: $(VENV)/.dev browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Requests per second of the hot routes against bare Flask, measured in one run.
bench: $(VENV)/.dev
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >/dev/null
	$(BIN)/python bench/http_bench.py $(BENCH_ARGS)

# PNGs of the dashboard, a video page and the admin page, with demo data (docs/screenshots/).
screenshots: $(VENV)/.dev browser
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache
