{#- A re-implementation of dbt_utils.generate_surrogate_key (we cannot `dbt deps`):
    md5 over the fields cast to text, nulls as '_null_', joined with '-'. -#}
{% macro generate_surrogate_key(field_list) -%}
    {%- set fields = [] -%}
    {%- for field in field_list -%}
        {%- do fields.append("coalesce(cast(" ~ field ~ " as " ~ dbt.type_string() ~ "), '_null_')") -%}
        {%- if not loop.last %}{%- do fields.append("'-'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(fields)) }}
{%- endmacro %}

{#- The key of every dimension's "unknown" member (GitLab's MD5('-1')), so facts never
    carry a null foreign key and Metabase joins never drop rows. -#}
{% macro unknown_key() -%}
    {{ dbt.hash("'-1'") }}
{%- endmacro %}
