"""Ingest: Spotify export files and recently-played polls, from raw/ into staged/.

Luigi-free, in the shape of ``pipeline.enrich``: ``exports`` imports export files (raw copy,
archive handling, one Parquet unit per file), ``units`` names the units and reads their days,
``polls`` polls an account and lands its responses (and replays raw/), ``poll_state`` is the
per-account state file. ``pipeline.tasks.imports`` and ``pipeline.tasks.spotify`` wire these
into Luigi; clients live in ``pipeline/clients/``, parsing and slot maths in
``pipeline/transform/``.
"""
