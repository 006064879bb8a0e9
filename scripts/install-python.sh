#!/usr/bin/env bash
# Creates .venv with dbtool and its test dependencies. Installs Debian's python3-venv first when
# the system Python cannot make a virtual environment (a fresh Debian machine cannot).
set -euo pipefail
say() { printf 'install-python: %s\n' "$*" >&2; }
die() { printf 'install-python: error: %s\n' "$*" >&2; exit 1; }

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if ! command -v "$PYTHON" >/dev/null || ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    [ "$(id -u)" = 0 ] || die "$PYTHON with venv is missing: run 'sudo apt-get install python3 python3-venv'"
    command -v apt-get >/dev/null || die "$PYTHON with venv is missing and apt-get is not available"
    say "installing python3 and python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null \
        || die "apt-get install python3-venv failed"
fi
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "dbtool needs Python 3.11 or newer ($PYTHON is older)"
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
say "installing dbtool and its dependencies into $VENV"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$VENV/bin/python" -m pip install -q --upgrade pip >"$log" 2>&1 || { cat "$log" >&2; die "pip upgrade failed"; }
"$VENV/bin/python" -m pip install -q -e '.[dev]' >"$log" 2>&1 || { cat "$log" >&2; die "pip install failed"; }
"$VENV/bin/python" -c 'import dbtool, psycopg, yoyo, pytest_postgresql' || die "the install in $VENV is incomplete"
