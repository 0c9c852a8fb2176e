"""Which dbt nodes an incremental build selects: what the changed inputs reach, nothing else."""

from __future__ import annotations

#: The generic test that runs a model's plain tests (columns, relationships, expressions, key
#: combinations) as one node (``dbt_project/tests/generic/column_checks.sql``).
BATCHED_TESTS = "column_checks"
#: The tests it batches: a cycle runs the batch instead of one dbt node each.
BATCHED = (
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "expression_is_true",
    "unique_combination_of_columns",
)
#: What a cycle's build leaves to the whole suite (``--exclude``).
CYCLE_EXCLUDES = (
    "test_type:unit",
    "tag:whole_suite",
    *(f"test_name:{name}" for name in BATCHED),
)
#: What the whole suite leaves out: the batches, as it runs each of their tests by name.
WHOLE_EXCLUDES = (f"test_name:{BATCHED_TESTS}",)
#: Every model and data test, plain tests batched, unit tests left out
#: (``dbt_project/selectors.yml``): a build of everything that is not the whole suite.
EVERY_MODEL = "every_model"


def build_selection(
    changed: list[str] | None,
    lookups: dict[str, list[str]] | None,
    whole: bool,
    suite: bool = False,
) -> list[str]:
    """``--select`` for an incremental build: what the changed inputs reach, nothing else.

    Plays reach nearly every model; changed lookup answers add their staging models' children;
    the pipeline's own tables (quarantine, gaps) are cheap and always rebuilt. Seeds, source
    freshness tests and what only unchanged lookups feed are left alone.

    ``suite`` (``cron daily``, ``rebuild``, a full refresh) is the whole suite: every model,
    the unit tests and every plain test under its own name. ``whole`` (a first build, the
    first after an upgrade) or no list of changed days selects every model and data test
    (``EVERY_MODEL``), the plain tests batched per model as in a cycle (``column_checks``:
    dbt spends ~25 ms of its own on each of ~225 nodes; at 1M plays the batches took a
    first build's dbt from 26-30 s to 20-24 s), and leaves the unit tests (the project's SQL on
    fixed rows, not the data) to the whole suite. A cycle leaves out the tests tagged
    whole_suite too (they recompute an ephemeral model over every play).
    """
    if suite:
        return ["--exclude", *WHOLE_EXCLUDES]
    if whole or changed is None:
        return ["--selector", EVERY_MODEL]
    selected = ["stg_pipeline__quarantine+", "stg_pipeline__gaps+"]
    if changed:
        selected.append("stg_spotify__plays+")
    datasets = {"spotify_tracks", "spotify_albums", "spotify_artists", "musicbrainz_artists"}
    if lookups is None or set(lookups) & datasets:
        selected += [
            "stg_spotify__tracks+",
            "stg_spotify__albums+",
            "stg_spotify__artists+",
            "stg_musicbrainz__artists+",
        ]
    if lookups is None or "geo_places" in lookups:
        selected.append("stg_geo__places+")
    return ["--select", *selected, "--exclude", *CYCLE_EXCLUDES]
