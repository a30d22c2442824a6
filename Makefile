# eMAR: `make run` and `make test` do all set-up on a fresh machine (R-RUN-1, R-RUN-2).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
PYTEST_ARGS ?= -n 2
# Exact versions with hashes (R-RUN-1): the Dockerfile installs requirements.lock, developers and
# CI requirements-dev.lock (runtime + dev tools). `make lock` rewrites both from pyproject.toml,
# keeping every pin it can; `make lock LOCK_ARGS=--upgrade` moves to the newest versions allowed.
LOCK := requirements-dev.lock
LOCK_ARGS ?=
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --allow-unsafe --generate-hashes --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: run test install lint format clean bench lock

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "eMAR needs Python 3.11 or newer"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

lock: install
	$(PIP_COMPILE) --output-file=requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra=dev --output-file=requirements-dev.lock pyproject.toml

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo
	@echo "eMAR is starting at http://127.0.0.1:$(PORT)/  (Ctrl-C stops the web server, worker and beat)"
	@echo
	EMAR_PORT=$(PORT) exec $(VENV)/bin/honcho -f Procfile.dev start

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	find . -name '*.py' -not -path './$(VENV)/*' -not -path './var/*' -print0 \
	  | xargs -0 $(VENV)/bin/django-upgrade --target-version 5.2 --check
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
