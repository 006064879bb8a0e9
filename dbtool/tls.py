"""TLS for the local servers dbtool starts (the dev cluster, scratch clusters, the test clusters): a
self-signed certificate made by the openssl program, and the settings that turn TLS on with it.
Production servers get certificates from their own CA (docs/tls.md)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from . import cluster
from .errors import DbtoolError

# PostgreSQL's own default names, relative to the data folder: a copy of the folder (pgBackRest's
# restore, pg_basebackup) takes its certificate along and still finds it.
CERT = "server.crt"
KEY = "server.key"
# Clients of a local server reach it by either name; verify-full checks the one in the URL.
SUBJECT_ALT_NAMES = "DNS:localhost,IP:127.0.0.1,IP:::1"


def make_certificate(folder: Path, owner: int | None = None, days: int = 3650) -> tuple[Path, Path]:
    """A self-signed certificate and its key in `folder` (CERT, KEY), both mode 0600 and given to
    `owner` (a uid, the server's OS user): PostgreSQL refuses a key that others may read. An
    elliptic-curve key: made in milliseconds, where an RSA one takes a noticeable part of a second."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise DbtoolError("the openssl program is not installed: dbtool makes the local server's TLS "
                          "certificate with it", hint="install openssl (apt-get install openssl)")
    # openssl writes into a folder that is ours alone; the files reach `folder` through write_private,
    # which never writes through a link the server's user could have planted there.
    with tempfile.TemporaryDirectory(prefix="dbtool-tls-") as tmp:
        key, cert = Path(tmp) / KEY, Path(tmp) / CERT
        res = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                              "-nodes", "-keyout", str(key), "-out", str(cert), "-days", str(days),
                              "-subj", "/CN=localhost", "-addext", f"subjectAltName={SUBJECT_ALT_NAMES}"],
                             capture_output=True, text=True)
        if res.returncode != 0:
            last = ([ln for ln in res.stderr.splitlines() if ln.strip()] or ["no output"])[-1]
            raise DbtoolError(f"openssl could not make a TLS certificate: {last}",
                              hint="check that `openssl req -x509` works on this machine")
        cluster.write_private(folder / KEY, key.read_text(), owner=owner)
        cluster.write_private(folder / CERT, cert.read_text(), owner=owner)
    return folder / CERT, folder / KEY


def settings(cert: str = CERT, key: str = KEY) -> dict[str, str]:
    """The server settings of TLS with that certificate (paths relative to the data folder, or absolute)."""
    return {"ssl": "on", "ssl_cert_file": cert, "ssl_key_file": key, "ssl_min_protocol_version": "TLSv1.2"}


def conf_lines(cert: str = CERT, key: str = KEY) -> list[str]:
    """settings() as postgresql.conf lines."""
    return [f"{name} = '{value}'" for name, value in settings(cert, key).items()]


def server_options(cert: str = CERT, key: str = KEY) -> str:
    """settings() as `postgres -c` options (pg_ctl -o); the paths must hold no space or quote."""
    return " ".join(f"-c {name}={value}" for name, value in settings(cert, key).items())
