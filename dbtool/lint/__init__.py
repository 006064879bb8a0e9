"""`dbtool lint`'s layers: style (sqlfluff), safety (squawk), bodies (plpgsql_check), rules (dbtool's own).

The command that runs them is dbtool/commands/lint.py; docs/lint.md describes them."""
