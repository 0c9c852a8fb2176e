"""Music Tracker: a household's Spotify listening, turned into a DuckDB star schema."""

__version__ = "0.1.0"
