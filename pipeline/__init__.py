"""Music Tracker: a household's Spotify listening, turned into a DuckDB star schema."""

import os

__version__ = "0.1.0"

# Memory that a task frees must go back to the OS before the next task (or dbt, beside this
# process) needs it: the container has ~400 MB. Arrow's default jemalloc pool keeps freed pages;
# the system allocator, trimmed after every task (pipeline.io.duck.release_memory), does not.
# Measured on a 1,000,000-play import + staging: peak 418 -> 300 MB, 379 -> 264 MB held after
# staging, ~3% slower. (Polars' jemalloc without decay saved ~25 MB more but cost ~10% of the
# staging time, so it keeps its default.) Set before pyarrow is first imported; an explicit
# setting wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
