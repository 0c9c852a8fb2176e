"""Every Luigi task, so ``luigi --module pipeline.tasks <Task>`` finds them all.

No ``task_namespace``: CLI names stay short (``StagePlays``, ``DbtBuild``...). Luigi's range
tools are re-exported so ``luigi --module pipeline.tasks RangeDaily --of DailyPipeline`` works.
Under the ``luigi`` binary, importing this package sets up the pipeline's logging
(``logs/pipeline.log``, secrets redacted), as ``music-tracker`` does.

A task's ``complete()`` uses the stage's checks, imported with the task module; the stage's
work (parsing, staging, dbt, publishing, with DuckDB and Arrow's compute kernels behind them)
is imported inside ``run()``. A scheduling pass that finds everything complete (the 30-minute
cycle with nothing new) then loads only what it asks, not every stage's machinery.
"""

from luigi.tools.range import RangeDaily

from pipeline.log import setup_for_luigi_cli
from pipeline.tasks.daily import DailyPipeline
from pipeline.tasks.enrichment import EnrichArtists, EnrichCatalogue, GeocodeOrigins
from pipeline.tasks.imports import ExternalExportFile, ImportExport, ImportExports
from pipeline.tasks.spotify import (
    IngestRecentlyPlayed,
    PollRecentlyPlayed,
    PollSucceeded,
    RawPoll,
)
from pipeline.tasks.staging import StageAllPlays, StagePlays
from pipeline.tasks.warehouse import DbtBuild, PublishReporting

setup_for_luigi_cli()

__all__ = [
    "DailyPipeline",
    "DbtBuild",
    "EnrichArtists",
    "EnrichCatalogue",
    "ExternalExportFile",
    "GeocodeOrigins",
    "ImportExport",
    "ImportExports",
    "IngestRecentlyPlayed",
    "PollRecentlyPlayed",
    "PollSucceeded",
    "PublishReporting",
    "RangeDaily",
    "RawPoll",
    "StageAllPlays",
    "StagePlays",
]
