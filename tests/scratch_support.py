"""Watching a server's databases while a command runs: verify, drift --against-migrations and
snapshot --from-migrations must create none on a server they were not given with --server-url.

A scratch database lives only while the command runs (it is dropped afterwards), so comparing the
list before and after proves nothing: a thread polls pg_database every few milliseconds during the
run and records every name that was not there before.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

import psycopg


@contextmanager
def databases_created_on(admin_url: str, every: float = 0.005) -> Iterator[set[str]]:
    """Yields a set that holds, after the block, every database that appeared on the server of
    `admin_url` while the block ran (even briefly), and fails if the list differs at the end."""
    seen: set[str] = set()
    stop = threading.Event()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        def names() -> set[str]:
            return {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}

        before = names()

        def poll() -> None:
            while not stop.is_set():
                seen.update(names() - before)
                time.sleep(every)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            yield seen
        finally:
            stop.set()
            watcher.join()
            after = names()
            seen.update(after - before)
    assert after == before, f"databases left behind or dropped: {sorted(after ^ before)}"
