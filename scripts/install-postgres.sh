#!/usr/bin/env bash
# Installs the PostgreSQL server and every extension dbtool's schema needs, on Debian.
# Also Graphviz, which `dbtool docs` draws the schema's ER diagram with, and pgBackRest (`dbtool pitr`).
# Idempotent: each step checks whether it is already done, so a second run takes seconds.
# pgvector and TimescaleDB come from distribution packages when the distribution has them
# for the installed server, otherwise they are built from Debian trixie's source packages,
# fetched through a private apt configuration so the machine's own sources stay untouched.
set -euo pipefail

say() { printf 'install-postgres: %s\n' "$*" >&2; }
die() { printf 'install-postgres: error: %s\n' "$*" >&2; exit 1; }

SRC_SUITE=${DBTOOL_SRC_SUITE:-trixie}
SRC_MIRROR=${DBTOOL_SRC_MIRROR:-http://deb.debian.org/debian}
WORK=${DBTOOL_BUILD_DIR:-/var/cache/dbtool-build}
APT_UPDATED=0

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need_root() {
    [ "$(id -u)" = 0 ] || die "$1 needs root: run 'sudo make setup' (or as root)"
    command -v apt-get >/dev/null || die "apt-get not found: this installer supports Debian and Ubuntu only; install PostgreSQL 15+, pg_cron, pgvector and TimescaleDB by hand"
}

apt_install() {
    local missing=()
    for p in "$@"; do is_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    need_root "installing ${missing[*]}"
    if [ "$APT_UPDATED" = 0 ]; then
        say "apt-get update"
        apt-get update -qq || die "apt-get update failed: check the machine's package sources and network"
        APT_UPDATED=1
    fi
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

pg_major() {
    # The newest installed server wins; with none, the distribution's default.
    local v
    v=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1 || true)
    if [ -z "$v" ] || [ ! -x "/usr/lib/postgresql/$v/bin/postgres" ]; then
        command -v apt-cache >/dev/null || die "no PostgreSQL server installed and no apt-get to install one"
        v=$(apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -1)
        [ -n "$v" ] || die "cannot tell which PostgreSQL version this distribution ships (apt-cache depends postgresql)"
    fi
    echo "$v"
}

has_candidate() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'; }

private_apt() {
    # A private apt state: deb-src for $SRC_SUITE only; the machine's sources.list is never read or changed.
    local dir=$WORK/apt
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $SRC_MIRROR $SRC_SUITE main" >"$dir/sources.list"
    APT_PRIVATE=(-o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
                 -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "APT::Sandbox::User=root")
    if [ -z "$(ls "$dir/lists" | grep Sources || true)" ]; then
        say "fetching the $SRC_SUITE source index (private apt configuration in $dir)"
        apt-get "${APT_PRIVATE[@]}" update -qq || die "cannot read $SRC_SUITE sources from $SRC_MIRROR"
    fi
}

fetch_source() {  # fetch_source PACKAGE -> prints the unpacked folder
    local pkg=$1
    local dest=$WORK/src/$pkg
    if [ -z "$(ls -d "$dest"/*/ 2>/dev/null | head -1)" ]; then
        private_apt
        mkdir -p "$dest"
        (cd "$dest" && apt-get "${APT_PRIVATE[@]}" source -qq "$pkg" >/dev/null 2>&1) \
            || die "apt-get source $pkg from $SRC_SUITE failed"
    fi
    ls -d "$dest"/*/ | head -1
}

install_pgvector() {
    local v=$1 share=/usr/share/postgresql/$1/extension
    [ -f "$share/vector.control" ] && { say "pgvector: already installed"; return; }
    if has_candidate "postgresql-$v-pgvector"; then apt_install "postgresql-$v-pgvector"; return; fi
    need_root "building pgvector"
    apt_install build-essential dpkg-dev "postgresql-server-dev-$v"
    local src; src=$(fetch_source pgvector)
    say "building pgvector from $src"
    make -C "$src" -s clean >/dev/null 2>&1 || true
    make -C "$src" -s PG_CONFIG="/usr/lib/postgresql/$v/bin/pg_config" OPTFLAGS="" >/dev/null \
        || die "pgvector build failed in $src"
    make -C "$src" -s PG_CONFIG="/usr/lib/postgresql/$v/bin/pg_config" install >/dev/null \
        || die "pgvector install failed"
}

install_timescaledb() {
    local v=$1 share=/usr/share/postgresql/$1/extension
    [ -f "$share/timescaledb.control" ] && { say "timescaledb: already installed"; return; }
    if has_candidate "postgresql-$v-timescaledb"; then apt_install "postgresql-$v-timescaledb"; return; fi
    need_root "building timescaledb"
    apt_install build-essential dpkg-dev cmake libssl-dev "postgresql-server-dev-$v"
    local src; src=$(fetch_source timescaledb)
    say "building timescaledb (Apache edition) from $src"
    rm -rf "$src/build"
    local log=$WORK/timescaledb-build.log
    # The build log goes to a file: cmake's git probes are noisy outside a git checkout.
    (cd "$src" && ./bootstrap -DPG_CONFIG="/usr/lib/postgresql/$v/bin/pg_config" -DAPACHE_ONLY=1 \
        -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DUSE_TELEMETRY=OFF -DWARNINGS_AS_ERRORS=OFF) >"$log" 2>&1 \
        || die "timescaledb cmake configuration failed; see $log"
    make -C "$src/build" -s -j"$(nproc)" >>"$log" 2>&1 || die "timescaledb build failed; see $log"
    make -C "$src/build" -s install >>"$log" 2>&1 || die "timescaledb install failed; see $log"
}

main() {
    command -v dpkg-query >/dev/null || die "dpkg not found: this installer supports Debian and Ubuntu only"
    local v; v=$(pg_major)
    say "PostgreSQL $v"
    # postgresql-common stops Debian from creating and starting a default cluster we do not use.
    if ! is_installed "postgresql-$v"; then
        need_root "installing PostgreSQL $v"
        mkdir -p /etc/postgresql-common
        [ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    fi
    # pgaudit: the audit log of schema and role changes (migration 0022, docs/audit.md).
    apt_install "postgresql-$v" "postgresql-client-$v" "postgresql-$v-cron" "postgresql-$v-plpgsql-check" \
        "postgresql-$v-pgaudit" "postgresql-server-dev-$v" gnupg
    # `dbtool docs` renders the schema's ER diagram with Graphviz's dot (SVG, PNG) in the DejaVu font
    # it names, so the committed pictures come out the same on every machine.
    apt_install graphviz fonts-dejavu-core
    # `dbtool pitr`: WAL archiving, physical backups and point-in-time recovery (docs/backup.md).
    apt_install pgbackrest
    install_pgvector "$v"
    install_timescaledb "$v"
    for ext in vector timescaledb pg_cron plpgsql_check pgaudit pg_stat_statements pg_trgm btree_gin pgcrypto uuid-ossp; do
        [ -f "/usr/share/postgresql/$v/extension/$ext.control" ] || die "extension $ext is still missing after install"
    done
    id postgres >/dev/null 2>&1 || die "system user 'postgres' is missing; reinstall postgresql-common"
    command -v pgbackrest >/dev/null || die "pgbackrest is still missing after install"
    say "ok: PostgreSQL $v with pgvector, timescaledb, pg_cron, plpgsql_check, pgaudit; graphviz; pgbackrest"
}

main "$@"
