# make run: set up and serve the API on http://127.0.0.1:8000 (embedded PostgreSQL, demo merchant).
# make test: set up and run lint + the whole suite (on a throwaway embedded PostgreSQL, or DATABASE_URL's).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON_VERSION := $(shell cat .python-version)
BOOTSTRAP_PYTHON ?= $(shell command -v python$(basename $(PYTHON_VERSION)) || echo $(HOME)/.pyenv/versions/$(PYTHON_VERSION)/bin/python)

.PHONY: run test test-psycopg3 install lint browser schema bench bench-worker bench-import clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# Without DATABASE_URL: the embedded PostgreSQL in .pgdata/ (payoutsite/devdb.py), kept between runs.
run: install
	@export DEBUG=$${DEBUG:-true}; \
	if [ -z "$${DATABASE_URL:-}" ]; then DATABASE_URL=$$($(PY) -m payoutsite.devdb url) || exit 1; fi; \
	export DATABASE_URL; \
	$(PY) manage.py migrate --noinput && $(PY) manage.py ensure_demo_merchant || exit 1; \
	$(PY) manage.py run_workers & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:8000

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

# The back-office's browser tests drive Debian's Chromium (never a Playwright browser download).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "No chromium (as root: apt-get install chromium): the browser tests will be skipped."

# Without DATABASE_URL: a throwaway embedded PostgreSQL of its own, deleted afterwards.
test: lint browser
	$(PY) -m payoutsite.devdb --throwaway -- bash -c \
		'DEBUG=true $(PY) manage.py makemigrations --check --dry-run && $(VENV)/bin/pytest $(PYTEST_ARGS)'

# The same suite with psycopg 3 in place of psycopg2 (nothing of ours depends on one driver); CI runs it too.
VENV3 := .venv-psycopg3
$(VENV3)/.installed: requirements.txt requirements-dev.txt
	test -x $(VENV3)/bin/python || $(BOOTSTRAP_PYTHON) -m venv $(VENV3)
	$(VENV3)/bin/python -m pip install --quiet --upgrade pip
	grep -v '^psycopg2' requirements.txt > $(VENV3)/requirements.txt
	grep -v '^-r ' requirements-dev.txt >> $(VENV3)/requirements.txt
	echo 'psycopg[binary]==3.3.9' >> $(VENV3)/requirements.txt
	$(VENV3)/bin/python -m pip install --quiet -r $(VENV3)/requirements.txt
	! $(VENV3)/bin/python -c 'import psycopg2' 2>/dev/null
	touch $@

test-psycopg3: $(VENV3)/.installed browser
	$(VENV3)/bin/python -m payoutsite.devdb --throwaway -- $(VENV3)/bin/pytest $(PYTEST_ARGS)

schema: install
	DEBUG=true $(PY) manage.py spectacular --validate --fail-on-warn --format openapi-json --file openapi.json

clean:
	-test -x $(PY) && $(PY) -m payoutsite.devdb stop
	rm -rf $(VENV) $(VENV3) .pgdata

bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

bench-worker: install
	$(PY) -m bench.worker $(BENCH_ARGS)

bench-import: install
	$(PY) -m bench.import_bench $(BENCH_ARGS)
