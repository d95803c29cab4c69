# make run: set up and serve the API on http://127.0.0.1:8000 (SQLite, demo merchant).
# make test: set up and run lint + the whole suite (DATABASE_URL=postgres://… for PostgreSQL).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON_VERSION := $(shell cat .python-version)
BOOTSTRAP_PYTHON ?= $(shell command -v python$(basename $(PYTHON_VERSION)) || echo $(HOME)/.pyenv/versions/$(PYTHON_VERSION)/bin/python)

.PHONY: run test install lint browser schema bench bench-worker bench-import clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(PY) manage.py ensure_demo_merchant
	DEBUG=$${DEBUG:-true} $(PY) manage.py process_payouts --poll 1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=$${DEBUG:-true} $(PY) manage.py runserver 127.0.0.1:8000

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The back-office's browser tests drive Debian's Chromium (never a Playwright browser download).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "No chromium (as root: apt-get install chromium): the browser tests will be skipped."

test: lint browser
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)

schema: install
	DEBUG=true $(PY) manage.py spectacular --validate --fail-on-warn --format openapi-json --file openapi.json

clean:
	rm -rf $(VENV) db.sqlite3*

bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

bench-worker: install
	$(PY) -m bench.worker $(BENCH_ARGS)

bench-import: install
	$(PY) -m bench.import_bench $(BENCH_ARGS)
