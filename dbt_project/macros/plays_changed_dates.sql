{#- The JSON in a build-request source (source build_request: the pipeline writes it for this
    build), or none when there is no request. The source is named before `execute` so dbt
    records the dependency at parse time; it is read at execution time, so a new request never
    invalidates partial parsing. -#}
{% macro build_request(name) %}
    {%- set relation = source('build_request', name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query("select content from " ~ relation) -%}
    {%- if found.rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(fromjson(found.rows[0][0])) }}
{% endmacro %}

{#- The UTC days whose staged plays changed since the last successful build (a list of ISO
    dates), or none when every day must be reloaded (no request: a first build, a full
    rebuild, or dbt run by hand). -#}
{% macro plays_changed_dates() %}
    {{ return(build_request('plays_changed_dates')) }}
{% endmacro %}

{#- The UTC days a 30-minute cycle reloaded (plays_changed_dates), for the models and tests
    that may work on those only; none (everything) for a whole build: no list of days, a full
    refresh, no reporting window request (a changed project), or the whole suite (`cron daily`
    asks for full_tests). The one place that rule is written. -#}
{% macro cycle_reloaded_days() %}
    {%- set changed = plays_changed_dates() -%}
    {%- set request = reporting_window_request() -%}
    {%- if changed is none or request is none or flags.FULL_REFRESH or request.get('full_tests', false) -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(changed) }}
{% endmacro %}

{#- A SQL list of date literals (`null` when empty, which matches nothing). -#}
{% macro sql_date_list(days) -%}
    {%- if days | length == 0 -%}
        null
    {%- else -%}
        {%- for day in days %}date '{{ day }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- stg_spotify__plays' pre-hook: drop the days about to be reloaded (every day without a list). -#}
{% macro delete_changed_plays() %}
    {%- if is_incremental() -%}
        {%- set changed = plays_changed_dates() -%}
        delete from {{ this }}
        {%- if changed is not none %} where partition_date in ({{ sql_date_list(changed) }}){% endif %}
    {%- endif -%}
{% endmacro %}
