"""Staging, without Luigi: every source's plays, deduplicated into one Parquet file per UTC day.

Inputs of a day are discovered, not required (``inputs``): the import units whose provenance
lists the day, and the poll files landed under ``polls/account=*/date=D/``. Each partition
stores the list of inputs it was built from, and a day is current when that list equals what
is there now, so a day that receives new plays (a later poll, a new import) is rebuilt by the
next run. ``partitions`` writes the days, a month at a time; ``memo`` keeps the stat-only
fingerprint that lets a no-op scheduling pass skip the provenance check. The Luigi tasks are
``pipeline.tasks.staging``.
"""
