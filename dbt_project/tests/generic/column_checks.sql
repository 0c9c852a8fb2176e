{#-
  The plain not_null, unique and accepted_values tests declared on this model's columns, run
  as one test node: a 30-minute cycle runs this instead of one node each (dbt spends ~25 ms of
  its own per test node before and around its query: the ~160 of them were ~3-4 s of every
  cycle), while `cron daily`, `rebuild` and a first build run them one by one, each under its
  own name (DbtBuild's selection excludes one or the other). The checks come from the
  project's own declarations (the graph), so there is nothing to keep in step by hand.

  Each failing row names the test that fails and how many rows fail it, so a failure reads
  "Got 2 results": two of the model's column tests fail; `dbt show --inline` of the compiled
  SQL, or the next daily run, names them.
-#}
{#- No ``model`` parameter: dbt passes the relation (windowed by get_where_subquery) as
    kwargs.model, which the checks read from, and ``model`` is then this test's own node, whose
    attached_node says which model's declarations to batch. -#}
{% test column_checks() %}
    {%- set relation = kwargs.model -%}
    {%- set checks = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == "test"
            and node.attached_node == model.attached_node
            and node.test_metadata
            and node.test_metadata.name in ["not_null", "unique", "accepted_values"]
            and "whole_suite" not in node.tags -%}
            {%- if node.config.where or node.config.severity | lower != "error" -%}
                {{ exceptions.raise_compiler_error(
                    "column_checks cannot run " ~ node.name ~ " (it has a where or severity)") }}
            {%- endif -%}
            {%- do checks.append(node) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if checks | length == 0 %}
select null as failing_test, 0 as failing_rows where false
    {%- else %}
select failing_test, failing_rows
from (
        {%- for node in checks | sort(attribute="name") %}
            {%- set column = node.test_metadata.kwargs.column_name %}
            {%- set kind = node.test_metadata.name %}
    select '{{ node.name }}' as failing_test, count(*) as failing_rows
            {%- if kind == "not_null" %}
    from {{ relation }} where {{ column }} is null
            {%- elif kind == "unique" %}
    from (
        select {{ column }} from {{ relation }}
        where {{ column }} is not null
        group by {{ column }} having count(*) > 1
    ) as duplicated
            {%- else %}
                {%- set quote = node.test_metadata.kwargs.get("quote", true) %}
    from {{ relation }}
    where {{ column }} not in (
                {%- for value in node.test_metadata.kwargs["values"] -%}
                    {{ "'" ~ value | replace("'", "''") ~ "'" if quote else value }}{{ ", " if not loop.last }}
                {%- endfor -%}
    )
            {%- endif %}
            {{- "\n    union all" if not loop.last }}
        {%- endfor %}
) as checks
where failing_rows > 0
    {%- endif %}
{% endtest %}
