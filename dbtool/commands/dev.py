"""`dbtool dev`: a project-local PostgreSQL with the schema's extensions, for developers. The cluster
itself is dbtool.devcluster, which lint and pitr use too."""

from ..devcluster import CITUS_WORKERS, DevCluster, destroy, down, psql_argv, require, reset, up, url

__all__ = ["CITUS_WORKERS", "DevCluster", "destroy", "down", "psql_argv", "require", "reset", "up", "url"]
