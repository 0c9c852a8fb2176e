{#- The UTC days whose staged plays changed since the last successful build, as the pipeline
    wrote them for this build (DATA_DIR/state/dbt/plays_changed_dates.json: a JSON list of
    ISO dates), or none when every day must be reloaded (no such file: a first build, a full
    rebuild, or dbt run by hand). Read at execution time, not parse time, so a new list never
    invalidates dbt's partial parsing. -#}
{% macro plays_changed_dates() %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set path = env_var('DATA_DIR') ~ '/state/dbt/plays_changed_dates.json' -%}
    {%- set found = run_query("select content from read_text('" ~ path | replace("'", "''") ~ "')") -%}
    {%- if found.rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(fromjson(found.rows[0][0])) }}
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
