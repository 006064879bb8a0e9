"""`dbtool dev`: a project-local PostgreSQL with the schema's extensions, for developers. The cluster
itself is dbtool.devcluster, which lint and pitr use too; this module says what each step shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Project
from ..devcluster import CITUS_WORKERS, DevCluster, destroy, down, psql_argv, require, reset, up, url

__all__ = ["CITUS_WORKERS", "DevCluster", "Step", "destroy", "down", "psql_argv", "require", "reset", "run", "up",
           "url"]


@dataclass
class Step:
    """What a `dbtool dev` command did: one line of text, and its JSON."""

    text: str
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return self.data

    def lines(self, quiet: bool = False) -> list[str]:
        return [self.text]


def run(action: str, project: Project, **options) -> Step:
    """`dbtool dev ACTION` (up, down, reset, url, destroy)."""
    if action == "url":
        where = url(project, **options)
        return Step(where, {"url": where})
    if action == "destroy":
        destroy(project)
        return Step("dev cluster removed", {"removed": True})
    dev = {"up": up, "down": down, "reset": reset}[action](project, **options)
    if action == "down":
        return Step(f"stopped the dev cluster in {dev.datadir}", dev.as_dict())
    if dev.replica:  # the standby's URL on a line of its own: `dev url --replica` prints it alone
        return Step(f"{dev.url}\nstandby: {dev.replica_url}", dev.as_dict())
    return Step(dev.url, dev.as_dict())
