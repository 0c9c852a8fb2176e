"""Deduplicate plays: the same play imported twice, polled twice, or seen by two sources.

The rule (documented in the README):

1. **Exact.** Rows with the same ``play_id`` (account, end time to the millisecond, what was
   played) are one play: re-imported files, the same file in two exports, overlapping polls.
2. **Same track, two sources.** The export's ``ts`` and the API's ``played_at`` both mark the
   end of playback, but they are recorded separately. Two rows of the same account and the same
   Spotify track whose end times are at most ``window_s`` seconds apart are one play. "Same
   track" is the Spotify ID (track, episode or chapter); a local file has none, so for local
   files it is the case-folded artist and title (a local file seen live and in the export is
   otherwise stored twice).
3. **Account-data rows** have only names and a minute (``endTime`` is truncated). Such a row is
   the same play as a richer row of the same account with the same artist and title (case
   folded) that ended within that minute (± ``window_s``).

Matches never cross midnight UTC, so staging one day alone or a month at once gives the same
partitions (a pair straddling midnight within the window stays two rows; rare, and documented).

The row kept is the one from the richest source: extended export, then API, then account data
(``schemas.SOURCES``); ties go to the first file and row, so the result is deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Arrow and Polars are imported where plays are deduplicated: a scheduling
    import polars as pl  # pass that finds staging current (the no-op) never loads them
    import pyarrow as pa


@dataclass(frozen=True)
class DedupeResult:
    """The deduplicated plays and how many rows each rule removed."""

    plays: pa.Table
    exact_duplicates: int
    cross_source_duplicates: int


def _ordered(df: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    from pipeline import schemas

    rank = {source: position for position, source in enumerate(schemas.SOURCES)}
    return df.with_columns(
        pl.col("source").replace_strict(rank, default=len(rank)).alias("_rank"),
        pl.int_range(pl.len()).alias("_row"),
    ).sort(["_rank", "source_file", "source_row", "play_id"])


def _name_key() -> pl.Expr:
    import polars as pl

    # Names are kept byte-exact; matching ignores case and outer spaces (an export's trailing
    # space must not make the same play two rows).
    who = pl.coalesce("artist_name", "show_name").fill_null("").str.strip_chars().str.to_lowercase()
    what = (
        pl.coalesce("track_name", "episode_name").fill_null("").str.strip_chars().str.to_lowercase()
    )
    day = pl.col("played_at").dt.date().cast(pl.String)
    return (pl.col("account") + "\x1f" + day + "\x1f" + who + "\x1f" + what).alias("_name_key")


def _content_key() -> pl.Expr:
    """What was played, for rule 2: a Spotify ID, else the names of a local file."""
    import polars as pl

    names = (
        pl.col("artist_name").fill_null("").str.to_lowercase()
        + "|"
        + pl.col("track_name").fill_null("").str.to_lowercase()
    )
    local = pl.col("is_local") & (pl.col("ts_precision") != "min")
    return pl.coalesce(
        "track:" + pl.col("track_id"),
        "episode:" + pl.col("episode_id"),
        "chapter:" + pl.col("audiobook_chapter_id"),
        pl.when(local).then("local:" + names),
    )


def _drop_matched(
    candidates: pl.DataFrame,
    keepers: pl.DataFrame,
    key: str,
    offset_ms: int,
    tolerance_ms: int,
) -> pl.DataFrame:
    """Rows of ``candidates`` with a keeper of the same key within tolerance of (t + offset)."""
    import polars as pl

    if candidates.is_empty() or keepers.is_empty():
        return candidates.head(0)
    left = candidates.with_columns(
        (pl.col("played_at").dt.epoch("ms") + offset_ms).alias("_t")
    ).sort("_t")
    right = (
        keepers.select(key, pl.col("played_at").dt.epoch("ms").alias("_t"))
        .with_columns(pl.col("_t").alias("_match_t"))
        .sort("_t")
    )
    joined = left.join_asof(
        right, on="_t", by=key, strategy="nearest", tolerance=tolerance_ms, check_sortedness=False
    )
    return joined.filter(pl.col("_match_t").is_not_null()).select("_row")


def show_key(name: str) -> str:
    """How a show name is compared across files: case-folded, outer spaces ignored."""
    return name.strip().lower()


def shows_digest(shows: Iterable[tuple[str, str]]) -> str:
    """A stable fingerprint of the (account, show key) set, for staging's provenance."""
    digest = hashlib.blake2b(digest_size=8)
    for account, show in sorted(set(shows)):
        digest.update(f"{account}\x1f{show}\x1e".encode())
    return digest.hexdigest()


def recognise_podcasts(table: pa.Table, shows: Iterable[tuple[str, str]]) -> pa.Table:
    """Oldest account-data rows of a show the account listens to become podcast rows.

    ``StreamingHistory*.json`` (before Spotify split music and podcasts) writes an episode as
    ``artistName`` = show, ``trackName`` = episode, so it parses as music; a talk show could
    then be a household's top artist. ``shows`` holds ``(account, show_key(show))`` for the
    shows seen as podcasts in the account's other files (``StreamingHistory_podcast_*``,
    extended history's ``episode_show_name``, polls). The names move to
    ``show_name``/``episode_name`` byte for byte; ``play_id`` is unchanged (its content key
    takes the same names either way). Pure.
    """
    import polars as pl

    from pipeline import schemas

    known = {(a, s) for a, s in shows}
    if table.num_rows == 0 or not known:
        return table
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    known_df = pl.DataFrame(
        {"account": [a for a, _ in known], "_show": [s for _, s in known]},
        schema={"account": pl.String, "_show": pl.String},
    ).with_columns(pl.lit(True).alias("_known"))
    df = df.with_columns(
        pl.col("artist_name").str.strip_chars().str.to_lowercase().alias("_show")
    ).join(known_df, on=["account", "_show"], how="left", maintain_order="left")
    hit = (
        pl.col("_known").fill_null(False)
        & (pl.col("source") == "export_account")
        & (pl.col("content_type") == "music")
    )
    if not df.select(hit.any()).item():
        return table
    df = df.with_columns(
        pl.when(hit).then(pl.lit("podcast")).otherwise("content_type").alias("content_type"),
        pl.when(hit).then("artist_name").otherwise("show_name").alias("show_name"),
        pl.when(hit).then("track_name").otherwise("episode_name").alias("episode_name"),
        pl.when(hit).then(None).otherwise("artist_name").alias("artist_name"),
        pl.when(hit).then(None).otherwise("track_name").alias("track_name"),
    )
    return df.select(schemas.PLAYS.names).to_arrow().cast(schemas.PLAYS)


def dedupe_plays(
    table: pa.Table, window_s: int = 10, podcast_shows: Iterable[tuple[str, str]] = ()
) -> DedupeResult:
    """Apply the three rules to ``table`` (any number of days); pure.

    ``podcast_shows`` (see ``recognise_podcasts``) turns old account-data rows of known shows
    into podcast rows first, so rule 3 matches them against the richer episode rows.
    """
    import polars as pl  # imported here: a no-op run (nothing to stage) never pays for it

    from pipeline import schemas

    if table.num_rows == 0:
        return DedupeResult(table.cast(schemas.PLAYS), 0, 0)
    table = recognise_podcasts(table, podcast_shows)
    df = _ordered(pl.from_arrow(table))  # type: ignore[arg-type]
    before = df.height
    df = df.unique(subset=["play_id"], keep="first", maintain_order=True)
    exact = before - df.height
    window_ms = window_s * 1000
    if df["_rank"].n_unique() <= 1 and not (df["ts_precision"] == "min").any():
        # One source and no minute-precision rows (a bulk import): rules 2 and 3 cannot match.
        out = df.sort(["played_at", "play_id"]).select(schemas.PLAYS.names).to_arrow()
        return DedupeResult(out.cast(schemas.PLAYS), exact, 0)

    day = pl.col("played_at").dt.date().cast(pl.String)
    track_key = pl.col("account") + "\x1f" + day + "\x1f" + _content_key()
    df = df.with_columns(_name_key(), track_key.alias("_track_key"))
    # Rule 2: lower-ranked rows with a content key, matched against higher-ranked ones.
    dropped: set[int] = set()
    with_track = df.filter(pl.col("_track_key").is_not_null())
    for rank in sorted(set(with_track["_rank"].to_list()))[1:]:
        higher = with_track.filter(pl.col("_rank") < rank)
        mine = with_track.filter(pl.col("_rank") == rank)
        dropped |= set(_drop_matched(mine, higher, "_track_key", 0, window_ms)["_row"].to_list())
    # Rule 3: minute-precision rows against any finer row: true end in [t, t + 60 s).
    coarse = df.filter(pl.col("ts_precision") == "min")
    fine = df.filter((pl.col("ts_precision") != "min") & ~pl.col("_row").is_in(list(dropped)))
    dropped |= set(
        _drop_matched(coarse, fine, "_name_key", 30_000, 30_000 + window_ms)["_row"].to_list()
    )
    kept = df.filter(~pl.col("_row").is_in(list(dropped))).sort(["played_at", "play_id"])
    out = kept.select(schemas.PLAYS.names).to_arrow().cast(schemas.PLAYS)
    return DedupeResult(out, exact, len(dropped))
