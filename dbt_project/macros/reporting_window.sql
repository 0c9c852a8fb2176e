{#- The reporting marts' window: which local days, and so which months and years, a build
    recomputes. DbtBuild writes the request (source build_request.reporting_window) for an incremental
    build: {"lookups": {dataset: [changed keys]}, "full_tests": bool (every day, as `cron daily`
    asks)}, next to the changed play
    days (plays_changed_dates). No file means a full window (first build, `rebuild`,
    `--full-refresh`, dbt run by hand), which is always correct. int_reporting_window turns
    both into one date; every incremental mart and its tests read that date. -#}
{% macro reporting_window_request() %}
    {{ return(build_request('reporting_window')) }}
{% endmacro %}

{#- A SQL list of string literals (`null` when empty, which matches nothing). -#}
{% macro sql_string_list(values) -%}
    {%- if values | length == 0 -%}
        null
    {%- else -%}
        {%- for value in values %}'{{ value | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- The first local day an incremental reporting mart recomputes (a scalar subquery). -#}
{% macro reporting_since() -%}
    (select since from {{ ref('int_reporting_window') }})
{%- endmacro %}

{#- The incremental marts, each with the predicate that selects the rows of its window, given
    the window's first day: whole periods (a month mart recomputes every month touching the
    window, a year mart every year). The pre-hook deletes these rows, the model inserts them
    again, and the tests (get_where_subquery below) check only them. -#}
{% macro reporting_window_predicate(model_name, since) -%}
    {%- set predicates = {
        'agg_daily_listening': "local_date >= " ~ since,
        'agg_discovery_monthly': "month_start >= date_trunc('month', " ~ since ~ ")",
        'agg_genre_share_monthly': "month_start >= date_trunc('month', " ~ since ~ ")",
        'agg_genre_diversity_monthly': "month_start >= date_trunc('month', " ~ since ~ ")",
        'agg_spoken_word': "month_start >= date_trunc('month', " ~ since ~ ")",
        'agg_music_age': "play_year >= year(" ~ since ~ ")",
        'int_item_months': "month_start >= date_trunc('month', " ~ since ~ ")",
        'int_year_totals': "year >= year(" ~ since ~ ")",
        'int_top_items': "period_grain = 'all' or (period_grain = 'year' and period_start >= "
            ~ "date_trunc('year', " ~ since ~ ")) or (period_grain = 'month' and period_start >= "
            ~ "date_trunc('month', " ~ since ~ "))",
    } -%}
    {{ return(predicates.get(model_name)) }}
{%- endmacro %}

{#- Pre-hook of an incremental reporting mart: drop the rows of the window (then the model
    appends them again). Deleting whole periods, not matching keys, also drops a period that
    lost all its plays. -#}
{% macro delete_reporting_window() %}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ reporting_window_predicate(this.identifier, reporting_since()) }}
    {%- endif -%}
{% endmacro %}

{#- fct_sessions' pre-hook: drop the sessions that end on or after the window's first day (the
    model appends them again, from fct_plays). -#}
{% macro delete_sessions_window() %}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where session_end_at >= {{ reporting_since() }}
    {%- endif -%}
{% endmacro %}

{#- Override of dbt's get_where_subquery: a test of an incremental reporting mart checks only
    the rows this build rebuilt (whole periods of the window; every such test is per row or
    per period, so that is sound); a full build's window is every day. The `where` config of a
    test still applies on top. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set window = none -%}
    {%- if relation.identifier is defined and relation.schema is defined -%}
        {%- set window = reporting_window_predicate(
            relation.identifier,
            '(select since from ' ~ relation.database ~ '.intermediate.int_reporting_window)'
        ) -%}
    {%- endif -%}
    {%- if window and execute -%}
        {%- set exists = adapter.get_relation(relation.database, 'intermediate', 'int_reporting_window') -%}
        {%- if exists is none -%}{%- set window = none -%}{%- endif -%}
    {%- endif -%}
    {%- set filters = [] -%}
    {%- if where -%}{%- do filters.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if window -%}{%- do filters.append('(' ~ window ~ ')') -%}{%- endif -%}
    {%- if filters -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ filters | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}

{#- The first day int_reporting_window's rule gives for the changed play days alone, as a SQL
    date literal: two days before the earliest changed UTC day; the first possible day for a
    whole build (cycle_reloaded_days is none); none (9999-12-31) when no play day changed.
    int_reporting_window takes it for its plays, and the models it depends on read it. -#}
{% macro plays_window_since() %}
    {%- set changed = cycle_reloaded_days() -%}
    {%- if changed is none -%}
        {{ return("date '0001-01-01'") }}
    {%- elif changed | length == 0 -%}
        {{ return("date '9999-12-31'") }}
    {%- endif -%}
    {{ return("cast(date '" ~ (changed | min) ~ "' - interval 2 day as date)") }}
{% endmacro %}

{#- int_plays_sessionized: whether the table as built carries what an incremental build reads
    (account and started_at; a table built by an older version does not). -#}
{% macro sessionized_can_increment() %}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return('account' in existing and 'started_at' in existing) }}
{% endmacro %}

{#- int_plays_sessionized's pre-hook: drop the plays that start on or after the window's first
    day (the model appends them again); every play of a table that cannot be incremented. -#}
{% macro delete_sessionized_window() %}
    {%- if is_incremental() -%}
        delete from {{ this }}
        {%- if sessionized_can_increment() %}
        where started_at >= {{ plays_window_since() }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
