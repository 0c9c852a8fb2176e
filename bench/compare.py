"""Does an incrementally built warehouse hold exactly the rows a full refresh gives?

``warehouse_differences(a, b)`` compares every table of the marts schema (every mart
PublishReporting publishes) and of the intermediate schema (the incremental intermediates the
marts are built from) of two warehouse files, row multisets, order-independent. Doubles are
compared to 9 decimal places: a sum's last bits depend on the order DuckDB's threads add its
rows, which differs from run to run even between two full refreshes.

Used by the bench (``--scenarios equal``) and by ``tests/dbt/test_incremental_equals_full.py``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

#: Schemas whose tables must match.
SCHEMAS = ("marts", "intermediate")
#: Build state, not data: which days this build recomputed.
NOT_COMPARED = {"intermediate.int_reporting_window"}


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> dict[str, list[tuple[str, str]]]:
    """``schema.table`` -> [(column, type)] for every base table of ``SCHEMAS`` in ``db``."""
    rows = con.execute(
        "select table_schema, table_name, column_name, data_type "
        "from information_schema.columns "
        "where table_catalog = ? and table_schema in (select unnest(?)) "
        "and (table_schema, table_name) in ("
        "  select (table_schema, table_name) from information_schema.tables "
        "  where table_catalog = ? and table_type = 'BASE TABLE') "
        "order by table_schema, table_name, ordinal_position",
        [db, list(SCHEMAS), db],
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for schema, table, column, dtype in rows:
        if f"{schema}.{table}" in NOT_COMPARED:
            continue
        tables.setdefault(f"{schema}.{table}", []).append((column, dtype))
    return tables


def _normalized(db: str, table: str, columns: list[tuple[str, str]]) -> str:
    """A select of ``table`` whose doubles are rounded (see the module docstring)."""
    parts = []
    for column, dtype in columns:
        quoted = '"' + column.replace('"', '""') + '"'
        if dtype in ("DOUBLE", "FLOAT", "REAL"):
            parts.append(f"round({quoted}, 9) as {quoted}")
        else:
            parts.append(quoted)
    schema, name = table.split(".")
    return f'select {", ".join(parts)} from {db}."{schema}"."{name}"'


def warehouse_differences(incremental: Path, full: Path) -> dict[str, str]:
    """Every table that differs between the two warehouses, with what differs (empty: equal).

    Both files are opened read-only; a table missing on one side, a different set of columns
    or rows present on one side only are differences.
    """
    con = duckdb.connect()
    try:
        con.execute(f"attach '{incremental}' as inc (read_only)")
        con.execute(f"attach '{full}' as ful (read_only)")
        left, right = _tables(con, "inc"), _tables(con, "ful")
        differences: dict[str, str] = {}
        for table in sorted(set(left) | set(right)):
            if table not in left or table not in right:
                differences[table] = "only in the " + ("full" if table in right else "incremental")
                continue
            if sorted(left[table]) != sorted(right[table]):
                differences[table] = f"columns differ: {left[table]} vs {right[table]}"
                continue
            columns = sorted(left[table])
            a = _normalized("inc", table, columns)
            b = _normalized("ful", table, columns)
            only_a = con.execute(f"select count(*) from ({a} except all {b})").fetchone()
            only_b = con.execute(f"select count(*) from ({b} except all {a})").fetchone()
            extra, missing = (only_a or (0,))[0], (only_b or (0,))[0]
            if extra or missing:
                differences[table] = (
                    f"{extra} rows only in the incremental build, {missing} only in the full one"
                )
        if not left:
            differences["(none)"] = "no tables in the incremental warehouse"
        return differences
    finally:
        con.close()


def mart_tables(db: Path) -> list[str]:
    """The compared tables of one warehouse (``schema.table``)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{db}' as w (read_only)")
        return sorted(_tables(con, "w"))
    finally:
        con.close()


def full_refresh(data_dir: Path) -> int:
    """``dbt build --full-refresh`` of the lake at ``data_dir`` as DbtBuild runs dbt (same
    env, vars, listeners and placeholders), without tests; returns dbt's exit code."""
    import os

    from pipeline.log import setup_logging
    from pipeline.paths import lake
    from pipeline.settings import reload_settings
    from pipeline.warehouse.prepare import ensure_placeholders, write_listeners
    from pipeline.warehouse.run import run_dbt_for_days

    os.environ["MUSIC_TRACKER__PATHS__DATA_DIR"] = str(data_dir)
    setup_logging()
    reload_settings()
    the_lake = lake()
    write_listeners(the_lake)
    ensure_placeholders(the_lake)
    args = ["build", "--full-refresh", "--exclude-resource-type", "test"]
    return run_dbt_for_days(the_lake, args, None).returncode


if __name__ == "__main__":
    import sys

    sys.exit(full_refresh(Path(sys.argv[1]).resolve()))
