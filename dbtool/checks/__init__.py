"""Catalog checks that are not drift: properties the live schema must have whatever the migrations say."""

from dataclasses import dataclass
from importlib import resources


@dataclass
class Check:
    """One line of `dbtool doctor`: what was checked, its state, and how to fix it."""

    name: str
    status: str  # ok | warn | missing
    value: str
    fix: str | None = None


def query(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.sql").read_text()
