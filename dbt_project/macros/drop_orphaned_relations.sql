{#- After every run: drop the tables and views in this project's schemas (staging,
    intermediate, marts) that no model or seed of the project makes any more, e.g. a mart that
    was renamed or removed. dbt never drops a relation by itself, and the publish
    (pipeline/reporting.py) exports every table of the marts schema, so without this an old
    mart would keep being published beside its new name. The graph holds every node even when
    a build selects a few, so a selective cycle drops nothing it should keep. -#}
{% macro drop_orphaned_relations() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set owned = [] -%}
    {%- set schemas = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type in ('model', 'seed', 'snapshot') -%}
        {%- do owned.append((node.schema | lower, (node.alias or node.name) | lower)) -%}
        {%- if node.config.materialized != 'ephemeral' and (node.schema | lower) not in schemas -%}
            {%- do schemas.append(node.schema | lower) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if schemas | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set listed = run_query(
        "select table_schema, table_name, table_type from information_schema.tables"
        ~ " where table_catalog = current_database() and lower(table_schema) in ("
        ~ sql_string_list(schemas) ~ ")"
    ) -%}
    {%- for row in listed.rows -%}
        {%- if (row[0] | lower, row[1] | lower) not in owned and not (row[1] | lower).endswith('__dbt_tmp') -%}
            {%- set kind = 'view' if row[2] == 'VIEW' else 'table' -%}
            {{ log("dropping " ~ kind ~ " " ~ row[0] ~ "." ~ row[1] ~ ": no model makes it any more", info=true) }}
            {%- do run_query("drop " ~ kind ~ " if exists " ~ adapter.quote(row[0]) ~ "." ~ adapter.quote(row[1])) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}
