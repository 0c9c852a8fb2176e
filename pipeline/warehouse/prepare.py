"""What dbt reads besides the staged plays: the listeners file and zero-row placeholders."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from pipeline import schemas
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import Lake
from pipeline.settings import get_settings

#: Day of the zero-row placeholder partitions (never a real listening day).
PLACEHOLDER_DATE = dt.date(1970, 1, 1)


def write_listeners(the_lake: Lake) -> None:
    """Write the configured listeners for dbt, only when they changed (keeps fingerprints)."""
    rows = [
        {"account": a.name, "display_name": a.display_name or a.name, "timezone": a.timezone}
        for a in get_settings().accounts
    ]
    table = pa.Table.from_pylist(rows, schema=schemas.LISTENERS)
    target = the_lake.listeners_file
    if target.exists():
        import pyarrow.parquet as pq

        if pq.read_table(target).equals(table):
            return
    write_parquet_atomic(target, table)


def ensure_placeholders(the_lake: Lake) -> None:
    """Give every dataset dbt reads at least a zero-row file, so sources resolve on day one."""
    placeholder = the_lake.staged / "quarantine" / "source=none" / "empty.parquet"
    if not placeholder.exists():
        write_parquet_atomic(placeholder, schemas.empty(schemas.QUARANTINE))
    for dataset, schema in schemas.DATED_DATASETS.items():
        root = the_lake.dated_dir(dataset)
        if not any(root.glob("date=*/*.parquet")):
            write_parquet_atomic(
                the_lake.dated_partition(dataset, PLACEHOLDER_DATE, "empty"),
                schemas.empty(schema),
            )
