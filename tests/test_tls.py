"""Encryption in transit: the local clusters dbtool starts run with TLS, and doctor says whether the
connection it checks is encrypted (docs/tls.md). The dev cluster's TLS is proven in test_dev.py; the
scratch clusters' by every test that builds in one (test_verify.py, test_lint.py): the URL they get
requires TLS, so a cluster without it fails them."""

import psycopg
import pytest

from dbtool import db
from dbtool.commands.doctor import doctor
from dbtool.errors import DbtoolError


def encrypted(url: str) -> tuple:
    with psycopg.connect(url) as c:
        return c.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()


def tls_check(url: str):
    (check,) = [c for c in doctor(url) if c.name == "tls"]
    return check


def test_the_session_cluster_encrypts_a_connection_that_requires_tls(server, tls_certificate):
    ssl, version = encrypted(server.url() + "?sslmode=require")
    assert ssl and version.startswith("TLSv1.")
    # the certificate names 127.0.0.1: a client that checks the name and the certificate gets in too
    assert encrypted(server.url() + f"?sslmode=verify-full&sslrootcert={tls_certificate}")[0]


def test_doctor_says_a_tls_connection_is_encrypted(server):
    check = tls_check(server.url() + "?sslmode=require")
    assert check.status == "ok" and check.fix is None
    assert check.value.startswith("this connection is encrypted: TLSv1.")
    assert check.value.endswith("sslmode=require does not check the server's name and certificate")


def test_doctor_knows_an_encrypted_connection_also_for_a_role_that_may_not_read_pg_stat_ssl(migrated_db, conn_to):
    conn_to(migrated_db).execute("DO $$BEGIN CREATE ROLE tls_stranger LOGIN; "
                                 "EXCEPTION WHEN duplicate_object THEN NULL; END$$")
    check = tls_check(migrated_db.replace("//postgres@", "//tls_stranger@") + "?sslmode=require")
    assert check.status == "ok" and check.value.startswith("this connection is encrypted; sslmode=require")


def test_doctor_warns_with_the_fix_about_a_tcp_connection_without_tls(server):
    check = tls_check(server.url() + "?sslmode=disable")
    assert check.status == "warn"
    assert check.value == ("this TCP connection is not encrypted: the server offers TLS, the client did not ask "
                           "for it (sslmode=disable)")
    assert "hostssl" in check.fix and "hostnossl all all 0.0.0.0/0 reject" in check.fix
    assert "sslmode=verify-full" in check.fix and "sslrootcert=" in check.fix


def test_doctor_warns_about_a_server_with_tls_off(bare_server):
    check = tls_check(bare_server.url())
    assert check.status == "warn"
    assert check.value == "this TCP connection is not encrypted: the server has TLS off (ssl = off)"
    assert check.fix.startswith("ssl = on with ssl_cert_file and ssl_key_file from your CA")


def test_doctor_needs_no_tls_on_a_unix_socket_connection(postgresql_proc, server):
    check = tls_check(f"postgresql://{server.user}@/postgres?host={postgresql_proc.unixsocketdir}&port={server.port}")
    assert check.status == "ok"
    assert check.value == "a Unix-socket connection: local, nothing to encrypt (server ssl = on)"


def test_a_url_that_requires_tls_of_a_server_without_it_is_one_line_and_a_hint(bare_server):
    with pytest.raises(DbtoolError, match="the URL requires TLS, which the server does not offer") as caught:
        db.connect(bare_server.url() + "?sslmode=require")
    assert "docs/tls.md" in caught.value.hint
