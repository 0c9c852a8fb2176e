"""Enrichment: Spotify catalogue, MusicBrainz artists, Nominatim places (issue 4).

Quota-aware and resumable: ``state`` keeps one row per looked-up entity (SQLite under
``state/lookups/``), ``budget`` rations calls per run and per day, ``candidates`` ranks what to
look up by listening time, and ``runs`` holds one run loop per service, free of Luigi so it can be
tested directly. Clients live in ``pipeline/clients/``, payload parsing in ``pipeline/transform/``.
"""
