"""Pure transforms: data in, data out; no Luigi, files or network (ARCHITECTURE invariant 5)."""
