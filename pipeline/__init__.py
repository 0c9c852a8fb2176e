"""Music Tracker: a household's Spotify listening, turned into a DuckDB star schema."""

import os

__version__ = "0.1.0"

# Memory that a task frees must go back to the OS before the next task (or dbt, beside this
# process) needs it: the container has ~400 MB. Arrow's default jemalloc pool and Polars'
# bundled jemalloc keep freed pages for seconds to minutes; the system allocator (trimmed after
# every task, see pipeline.io.duck.release_memory) and decay-free jemalloc do not. Measured on a
# 1,000,000-play import: the process held 380 MB after staging with the defaults, 234 MB with
# these. Set here, before pyarrow or polars is first imported; an explicit setting wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
