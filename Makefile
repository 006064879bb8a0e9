# dbtool: `make demo` shows the schema live, `make test` runs the whole suite. Both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup postgres python test demo lint snapshot bench bench-full clean

setup: postgres python

postgres:
	@scripts/install-postgres.sh

python: $(STAMP)

$(STAMP): pyproject.toml scripts/install-python.sh
	@PYTHON=$(PYTHON) VENV=$(VENV) scripts/install-python.sh
	@touch $@

test: setup
	$(BIN)/pytest

demo: setup
	$(BIN)/dbtool dev up
	DATABASE_URL=$$($(BIN)/dbtool dev url) $(BIN)/dbtool migrate
	DATABASE_URL=$$($(BIN)/dbtool dev url) $(BIN)/dbtool status

clean:
	-$(BIN)/dbtool dev destroy --yes
	rm -rf $(VENV) .pytest_cache
