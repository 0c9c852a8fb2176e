"""sqlfluff's stand-in for dbt's ``dbt.*`` Jinja namespace (the models use ``dbt.date_spine``).

The lint renders each model with plain Jinja (no dbt compile, no warehouse); this returns a
query of the same shape so the model around it parses.
"""


def date_spine(datepart: str, start_date: str, end_date: str) -> str:
    return (
        f"select cast(range as date) as date_{datepart} "
        f"from range({start_date}, {end_date}, interval 1 {datepart})"
    )
