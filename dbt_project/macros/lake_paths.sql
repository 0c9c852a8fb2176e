{#-
  The lake's files as sources, wherever the lake is.

  Each source's `external_location` names its files under `@DATA_DIR@`, replaced by the lake's
  absolute path (env `DATA_DIR`, set by the pipeline) only when SQL is compiled to run, never
  while parsing. dbt keeps its saved parse (partial parsing) only while every env var its files
  read at parse time is unchanged: read in the sources' YAML, a lake at another path (a first
  import, the demo's lake, a test's) made the next build parse again the sources and every model
  reading them (~2.5 s against ~0.4). Views keep absolute paths, so the warehouse reads the same
  from any working directory.
-#}

{% macro lake_relation(relation) -%}
    {%- if execute and relation.external and '@DATA_DIR@' in relation.external -%}
        {%- set lake = env_var('DATA_DIR') | replace("'", "''") -%}
        {{ return(relation.incorporate(external=relation.external | replace('@DATA_DIR@', lake))) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{#- `source()` everywhere in the project (models, tests, macros), through `lake_relation`. -#}
{% macro source(source_name, table_name) -%}
    {{ return(lake_relation(builtins.source(source_name, table_name))) }}
{%- endmacro %}

{#- `dbt source freshness` asks the source's relation without `source()`. -#}
{% macro duckdb__collect_freshness(source, loaded_at_field, filter) -%}
    {{ return(default__collect_freshness(lake_relation(source), loaded_at_field, filter)) }}
{%- endmacro %}
