"""dbtool's benchmark suite: `python -m bench` (make bench) and `python -m bench --full` (make bench-full).

Each figure is a ratio of two things measured side by side in one run, interleaved (A, B, B, A, ...)
so that the machine's noise hits both; docs/benchmarks.md is the report it writes. drift.py is the
drift/snapshot benchmark, also runnable on its own.
"""
