# dbtool: `make demo` shows the schema live, `make test` runs the whole suite. Both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup postgres python test demo lint snapshot snapshot-citus schema-docs bench bench-full clean

setup: postgres python

postgres:
	@scripts/install-postgres.sh

python: $(STAMP)

$(STAMP): pyproject.toml scripts/install-python.sh
	@PYTHON=$(PYTHON) VENV=$(VENV) scripts/install-python.sh
	@touch $@

# Two workers, each with its own clusters (tests/conftest.py); TEST_JOBS=0 runs the suite in one process.
TEST_JOBS ?= 2
test: setup
	$(BIN)/pytest -n $(TEST_JOBS)

demo: setup
	$(BIN)/dbtool dev up
	DATABASE_URL=$$($(BIN)/dbtool dev url) $(BIN)/dbtool migrate
	DATABASE_URL=$$($(BIN)/dbtool dev url) $(BIN)/dbtool seed --small
	DATABASE_URL=$$($(BIN)/dbtool dev url) $(BIN)/dbtool status

# Lint all SQL: sqlfluff, squawk, dbtool's rules, and PL/pgSQL bodies checked with plpgsql_check in a
# scratch database built in a throwaway local cluster (or on DBTOOL_LINT_SERVER_URL's server, or in
# DBTOOL_LINT_DATABASE_URL when set). docs/lint.md.
lint: setup
	$(BIN)/dbtool lint --temp-cluster

# The committed snapshot of head: what migrations/ and sql/ build, in a temporary local cluster of
# PG_BINDIR's (else Debian's) PostgreSQL (reproducible: no server of yours is read), or in a scratch
# database on SNAPSHOT_DATABASE_URL's server. The migrations branch on TimescaleDB's edition, so the
# file is the one of the edition that server runs: schema/snapshot.yaml (Apache, Debian's build),
# schema/snapshot.timescale.yaml (community: `PG_BINDIR=<its bin folder> make snapshot`).
# tests/test_snapshot.py fails when the file of its server's edition is stale or missing.
snapshot: setup
	env -u DATABASE_URL -u PGHOST -u PGHOSTADDR -u PGPORT -u PGDATABASE -u PGUSER -u PGSERVICE \
		$(BIN)/python -m dbtool.commands.snapshot \
		$(if $(SNAPSHOT_DATABASE_URL),--server-url '$(SNAPSHOT_DATABASE_URL)')

# The committed snapshot of head on a Citus coordinator (0038 and 0039 build another schema there):
# schema/snapshot.citus.yaml, built in a temporary coordinator with two workers of PG_BINDIR's
# PostgreSQL, which must have Citus (`PG_BINDIR=<its bin folder> make snapshot-citus`; docs/citus.md).
# tests/test_citus.py fails when it is stale or missing (with DBTOOL_TEST_CITUS_BINDIR set).
snapshot-citus: setup
	env -u DATABASE_URL -u PGHOST -u PGHOSTADDR -u PGPORT -u PGDATABASE -u PGUSER -u PGSERVICE \
		$(BIN)/python -m dbtool.commands.snapshot --citus

# docs/schema/: README.md with the ER diagram (Mermaid, and SVG and PNG drawn by Graphviz) and a page per
# table, view and materialized view, made by `dbtool docs` from the committed snapshot of the Apache
# edition (what Debian ships and CI runs), which `make snapshot` refreshes first (on a community-edition
# PG_BINDIR it refreshes that edition's file, and the documents still describe the Apache one).
# tests/test_docs_command.py fails when docs/schema/ is stale.
schema-docs: snapshot
	$(BIN)/dbtool docs --snapshot schema/snapshot.yaml --out docs/schema

# docs/benchmarks.md from a throwaway cluster: RLS cost with the verified tenant context, its cost per
# transaction, tenant scaling, dbtool vs psql, drift, refresh, the timeline with one tenant of 100x the
# median's events. bench: 100 and 1,000 tenants x 20 deals, a few minutes. bench-full: 1,000 tenants x
# 1,000 deals (1,000,000 deals, 10,000,000 timeline events) plus 100 x 1,000: about 20 minutes on 2 cores,
# 12 of them seeding. The cluster runs PG_BINDIR's PostgreSQL, else Debian's (TimescaleDB's Apache
# edition); `PG_BINDIR=/opt/pg-community/usr/lib/postgresql/15/bin make bench` runs the community
# edition, and the report then holds both editions' timeline sections (the run of the other edition is
# kept in bench-results/; docs/benchmarks.md, "How the figures are made").
bench: setup
	$(BIN)/python -m bench

bench-full: setup
	$(BIN)/python -m bench --full

clean:
	-$(BIN)/dbtool dev destroy --yes
	rm -rf $(VENV) .pytest_cache
