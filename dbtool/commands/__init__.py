"""One module per command; each exposes plain functions that the CLI and the tests call."""
