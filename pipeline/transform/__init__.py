"""Pure transforms: data in, data out; no Luigi, files or network.

See docs/architecture.md, invariant 5 (and the departures it lists).
"""
