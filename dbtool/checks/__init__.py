"""Catalog checks that are not drift: properties the live schema must have whatever the migrations say."""

from importlib import resources


def query(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.sql").read_text()
