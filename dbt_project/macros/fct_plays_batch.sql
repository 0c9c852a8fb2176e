{#- fct_plays' incremental batch, decided when the model runs and handed to its SQL as literals
    (DuckDB pushes a literal filter down to the staging scan, under the keying of every play;
    it pushes neither a subquery's value nor an `in (select ...)`).

    The staged plays not built yet can only be in the days staging reloaded in this build
    (plays_changed_dates): every other day is as the last successful build left it, and that
    build synced fct_plays to staging. So with a list of days both the cutoff's anti-join and
    the post-hook's delete look at those days only; without one (first build, rebuild, dbt by
    hand) they look at every play, as before. Looking at fewer built plays can only lower the
    cutoff (rebuild more), never skip a play. -#}

{#- The first partition_date the batch rebuilds (ISO text): the lookback before the newest
    partition built, or the oldest partition holding a play not built yet, whichever is
    earlier. -#}
{% macro fct_plays_cutoff() %}
    {%- if not execute -%}
        {{ return('9999-12-31') }}
    {%- endif -%}
    {%- set changed = plays_changed_dates() -%}
    {%- set days = '' if changed is none else ' where partition_date in (' ~ sql_date_list(changed) ~ ')' -%}
    {%- set found = run_query(
        "select cast(least("
        ~ " coalesce((select max(partition_date) from " ~ this ~ ") - to_days("
        ~ var('fct_plays_lookback_days') ~ "), date '9999-12-31'),"
        ~ " coalesce((select min(staged.partition_date)"
        ~ " from (select play_id, partition_date from " ~ ref('stg_spotify__plays') ~ days ~ ") as staged"
        ~ " anti join (select play_id from " ~ this ~ days ~ ") as built using (play_id)),"
        ~ " date '9999-12-31')) as date)"
    ) -%}
    {{ return(found.rows[0][0] | string) }}
{% endmacro %}

{#- The track keys of built plays whose catalogue duration changed since they were built
    (enrichment arrived): a list (usually empty), or none when there are more than a literal
    list should hold (the batch then compares every built play in SQL). -#}
{% macro fct_plays_stale_track_keys(max_keys=2000) %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set found = run_query(
        "select distinct tracks.track_key"
        ~ " from (select distinct track_sk, track_duration_ms from " ~ this ~ ") as built"
        ~ " inner join (select track_sk, track_key, duration_ms from " ~ ref('dim_track')
        ~ " where track_key <> '-1') as tracks on built.track_sk = tracks.track_sk"
        ~ " where built.track_duration_ms is distinct from tracks.duration_ms"
        ~ " limit " ~ (max_keys + 1)
    ) -%}
    {%- if found.rows | length > max_keys -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(found.columns[0].values() | list) }}
{% endmacro %}

{#- fct_plays' post-hook: drop the plays staging no longer has (a poll's play replaced by the
    export's), in the reloaded days only when there is a list of them. -#}
{% macro delete_unstaged_plays() %}
    {%- set changed = plays_changed_dates() if is_incremental() else none -%}
    {%- if changed is none %}
    delete from {{ this }}
    where play_id not in (select play_id from {{ ref('stg_spotify__plays') }})
    {%- else %}
    delete from {{ this }}
    where partition_date in ({{ sql_date_list(changed) }})
        and play_id not in (
            select play_id from {{ ref('stg_spotify__plays') }}
            where partition_date in ({{ sql_date_list(changed) }})
        )
    {%- endif %}
{% endmacro %}
