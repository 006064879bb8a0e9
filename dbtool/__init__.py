"""dbtool: pure-SQL migration and schema management for PostgreSQL."""

__version__ = "0.1.0"
