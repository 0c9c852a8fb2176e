"""Every Luigi task, so ``luigi --module pipeline.tasks <Task>`` finds them all.

No ``task_namespace``: CLI names stay short (``StagePlays``, ``DbtBuild``...). Luigi's range
tools are re-exported so ``luigi --module pipeline.tasks RangeDaily --of DailyPipeline`` works.
"""

from luigi.tools.range import RangeDaily

from pipeline.tasks.daily import DailyPipeline
from pipeline.tasks.enrichment import EnrichArtists, EnrichCatalogue, GeocodeOrigins
from pipeline.tasks.imports import ImportExport, ImportExports
from pipeline.tasks.spotify import IngestRecentlyPlayed, PollRecentlyPlayed
from pipeline.tasks.staging import StageAllPlays, StagePlays
from pipeline.tasks.warehouse import DbtBuild, PublishReporting

__all__ = [
    "DailyPipeline",
    "DbtBuild",
    "EnrichArtists",
    "EnrichCatalogue",
    "GeocodeOrigins",
    "ImportExport",
    "ImportExports",
    "IngestRecentlyPlayed",
    "PollRecentlyPlayed",
    "PublishReporting",
    "RangeDaily",
    "StageAllPlays",
    "StagePlays",
]
