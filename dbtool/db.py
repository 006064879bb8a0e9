"""Connections: where the URL comes from, how to connect, and how failures read."""

from __future__ import annotations

import functools
import os
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator
from urllib.parse import unquote

from .errors import DatabaseFailure, DbtoolError, UsageError

if TYPE_CHECKING:
    import psycopg

# psycopg is imported by the functions that use it: the CLI imports this module for resolve_url(),
# and neither `dbtool --help` nor a usage error ("no database given") should wait for the driver.
PG_ENV = ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGHOSTADDR")
CONNECT_TIMEOUT = "5"


def resolve_url(explicit: str | None = None) -> str:
    """--database-url, then DATABASE_URL, then the standard PG* variables."""
    if explicit:
        return explicit
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if any(os.environ.get(v) for v in PG_ENV):
        return ""
    raise UsageError("no database given",
                     hint="pass --database-url URL, set DATABASE_URL, or set PGHOST/PGDATABASE/PGUSER "
                          "(`dbtool dev up` prints a URL for a local cluster)")


# The password of a URL (greedy: it may hold an @ or a space) and of a keyword=value string, with
# the other secrets libpq takes (sslpassword, OAuth and SCRAM keys).
URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)(.*)@")
SECRET_KEYS = r"(?:ssl)?password|oauth_client_secret|scram_(?:client|server)_key"
KEYWORD_PASSWORD = re.compile(rf"((?:{SECRET_KEYS})\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)
URI_PREFIX = re.compile(r"postgres(?:ql)?://")  # libpq's two, case-sensitive as in libpq
QUOTED = re.compile(r'"([^"]*)"')  # libpq quotes the values (and option names) it cannot parse
URL_FORMS = "use postgresql://user@host:port/dbname or 'host=... dbname=...'"
ENCODE = ("percent-encode reserved characters in a URL (/ as %2F, @ as %40, ? as %3F, % as %25, space as "
          "%20), or keep the password out of it (PGPASSWORD, ~/.pgpass)")


@functools.cache
def _options() -> frozenset[str]:
    """libpq's connection option names."""
    from psycopg import pq

    return frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults())


def _has_secret(url: str) -> bool:
    return bool(URL_PASSWORD.search(url) or KEYWORD_PASSWORD.search(url))


def _bad_url(url: str, reason: str) -> UsageError:
    """libpq quotes the part of a URL it cannot parse, and that part can be the password (or a
    piece of it): with a password in the URL, neither the URL nor any quoted value is printed."""
    if not _has_secret(url):
        return UsageError(f"invalid database URL {redact(url)!r}: {reason}", hint=URL_FORMS)
    reason = scrub(QUOTED.sub(lambda m: m[0] if m[1] in _options() or m[1] == "=" else '"***"', reason), url)
    return UsageError(f"invalid database URL (not shown: it holds a password): {reason}",
                      hint=f"{URL_FORMS}; {ENCODE}; in 'key=value' form, quote a value with spaces")


def _check_reserved(url: str) -> None:
    """libpq ends a URL's user:password@ at the first @ or / and looks no further: an unencoded
    / or @ in the password (or an @ in the query, before any /) turns part of it into the host,
    port or database name, which every message prints. Refused before libpq reads it."""
    m = URI_PREFIX.match(url)
    if not m:
        return
    rest = url[m.end():]
    head = re.match(r"[^@/]*", rest)[0]
    if rest[len(head):].startswith("@"):  # libpq takes `head` as user:password
        ambiguous = "?" in head or "@" in re.match(r"[^/?]*", rest[len(head) + 1:])[0]
    else:
        ambiguous = "@" in rest.split("?", 1)[0]
    if ambiguous:
        raise UsageError("invalid database URL (not shown: it may hold a password): an unencoded /, @ or ? in its "
                         "user name, password or database name would be read as part of the host or database",
                         hint=ENCODE)


def parse(url: str) -> dict:
    import psycopg
    from psycopg import conninfo as pg_conninfo

    _check_reserved(url)
    try:
        return pg_conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise _bad_url(url, _first_line(exc)) from None


def with_dbname(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    from psycopg import conninfo as pg_conninfo

    params = parse(url)
    params["dbname"] = dbname
    return pg_conninfo.make_conninfo(**params)


def redact(url: str) -> str:
    """A URL fit to print: the password, in either syntax, becomes ***."""
    return KEYWORD_PASSWORD.sub(r"\1***", URL_PASSWORD.sub(r"\1***@", url))


def scrub(text: str, url: str) -> str:
    """`text` with every form of the URL's password replaced by ***: libpq quotes the offending
    part of a URL it cannot parse, and that part can be the password."""
    for secret in sorted(_secrets(url or ""), key=len, reverse=True):
        text = text.replace(secret, "***")
    return redact(text)


def _secrets(url: str) -> set[str]:
    """The URL's password as written, as percent-decoded, and as libpq reads it."""
    import psycopg
    from psycopg import conninfo as pg_conninfo

    found = {m[1] for m in URL_PASSWORD.findall(url)} | {m[1].strip("'") for m in KEYWORD_PASSWORD.findall(url)}
    try:
        found |= {v for k, v in pg_conninfo.conninfo_to_dict(url).items() if re.fullmatch(SECRET_KEYS, k)}
    except psycopg.Error:
        pass
    return {y for x in found if x for y in (x, unquote(x)) if y}


def describe(url: str) -> str:
    """user@host:port/dbname of a URL, as libpq would resolve it (no password)."""
    p = {**_env_defaults(), **parse(url)}
    host = p.get("host") or "localhost"
    port = p.get("port") or "5432"
    return f"{p.get('user', '?')}@{host}:{port}/{p.get('dbname') or p.get('user', '?')}"


def _env_defaults() -> dict:
    keys = {"PGHOST": "host", "PGPORT": "port", "PGDATABASE": "dbname", "PGUSER": "user"}
    d = {v: os.environ[k] for k, v in keys.items() if os.environ.get(k)}
    d.setdefault("user", os.environ.get("USER") or "")
    return d


def connect(url: str, *, autocommit: bool = True, dbname: str | None = None) -> psycopg.Connection:
    """A connection, or a DbtoolError that says in one line what went wrong."""
    import psycopg
    from psycopg import conninfo as pg_conninfo

    params = parse(url)
    if dbname:
        params["dbname"] = dbname
    params.setdefault("connect_timeout", os.environ.get("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT))
    params.setdefault("application_name", "dbtool")
    try:
        return psycopg.connect(pg_conninfo.make_conninfo(**params), autocommit=autocommit)
    except psycopg.ProgrammingError as exc:
        raise _bad_url(url, _first_line(exc)) from None
    except psycopg.OperationalError as exc:
        raise connect_error(url if not dbname else with_dbname(url, dbname), exc) from None


@contextmanager
def connection(url: str, **kw) -> Iterator[psycopg.Connection]:
    conn = connect(url, **kw)
    try:
        yield conn
    finally:
        conn.close()


def connect_error(url: str, exc: Exception) -> DbtoolError:
    text = str(exc)
    if re.search(r"connection option|invalid URI|invalid .* value|invalid port|percent-encoded|unexpected spaces", text):
        return _bad_url(url, _first_line(exc).replace("connection is bad: ", ""))
    where = describe(url)
    if "password authentication failed" in text or "no password supplied" in text:
        return DatabaseFailure(f"cannot connect to {where}: authentication failed",
                               hint="check the user and password (PGPASSWORD, ~/.pgpass or the URL)")
    if re.search(r"database \".*\" does not exist", text):
        return DatabaseFailure(f"cannot connect to {where}: {scrub(_first_line(exc), url)}",
                               hint="create the database first (createdb), or fix the database name")
    if re.search(r"role \".*\" does not exist", text):
        return DatabaseFailure(f"cannot connect to {where}: {scrub(_first_line(exc), url)}",
                               hint="fix the user name, or create that role")
    if "could not translate host name" in text or "failed to resolve host" in text:
        return DatabaseFailure(f"cannot connect to {where}: unknown host",
                               hint="check the host name in the URL")
    if "timeout expired" in text:
        return DatabaseFailure(f"cannot connect to {where}: no answer within {CONNECT_TIMEOUT}s",
                               hint="is the host reachable and the server listening? (PGCONNECT_TIMEOUT sets the wait)")
    if "server does not support SSL" in text:
        return DatabaseFailure(f"cannot connect to {where}: the URL requires TLS, which the server does not offer",
                               hint="turn TLS on at the server (docs/tls.md; for the dev cluster, `dbtool dev up`), "
                                    "or connect to one that has it")
    if "invalid response to SSL negotiation" in text or "server closed the connection unexpectedly" in text:
        return DatabaseFailure(f"cannot connect to {where}: something that is not PostgreSQL answered",
                               hint="check the host and port in the URL")
    if "Connection refused" in text or "No such file or directory" in text:
        return DatabaseFailure(f"cannot connect to {where}: no server is listening there",
                               hint="start the server (`dbtool dev up` for a local one) or fix host and port")
    return DatabaseFailure(f"cannot connect to {where}: {scrub(_first_line(exc), url)}")


def _first_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # libpq prefixes every attempt with 'connection to server at ... failed:'; keep the reason.
    for ln in lines:
        m = re.search(r"failed: (.+)$", ln)
        if m:
            return m.group(1)
    return lines[0] if lines else type(exc).__name__


def server_error(exc: psycopg.Error, where: str = "") -> DatabaseFailure:
    """A server error as `where: SQLSTATE message`, with detail and hint when PostgreSQL gives them."""
    diag = getattr(exc, "diag", None)
    sqlstate = getattr(diag, "sqlstate", None) or ""
    primary = getattr(diag, "message_primary", None) or _first_line(exc)
    prefix = f"{where}: " if where else ""
    return DatabaseFailure(f"{prefix}{sqlstate + ' ' if sqlstate else ''}{primary}",
                           detail=getattr(diag, "message_detail", None),
                           hint=getattr(diag, "message_hint", None))


def scalar(conn: psycopg.Connection, sql: str, params=None):
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None
