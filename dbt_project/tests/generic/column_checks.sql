{#-
  A model's plain tests, run as one test node: a 30-minute cycle and a first build run this
  instead of one node each (dbt spends ~25 ms of its own per test node before and around its
  query: the ~160 column tests were ~3-4 s of every cycle, the ~65 relationships, expressions
  and key combinations ~1.5 s more), while `cron daily` and `rebuild` run them one by one,
  each under its own name (DbtBuild's selection excludes one or the other). The checks
  come from the project's own declarations (the graph), so there is nothing to keep in step by
  hand but one list: a model whose relationships point at other models declares them as
  ``after`` (``ref`` strings), so the batch runs after those models are rebuilt, as the
  relationships tests themselves would; a relationships test whose model is missing there is a
  compilation error, never a test left out.

  Batched: not_null, unique, accepted_values, relationships (dbt's built-in tests) and the
  project's expression_is_true and unique_combination_of_columns, except those tagged
  whole_suite (a cycle leaves them to the daily run).

  Each failing row names the test that fails and how many rows fail it, so a failure reads
  "Got 2 results": two of the model's tests fail. The failed build's error names them with
  their rows (the pipeline runs the compiled SQL again once dbt has exited:
  pipeline/warehouse/failures.py); by hand, `dbt show --inline` of the compiled SQL.
-#}
{#- No ``model`` parameter: dbt passes the relation (windowed by get_where_subquery) as
    kwargs.model, which the checks read from, and ``model`` is then this test's own node, whose
    attached_node says which model's declarations to batch and whose depends_on holds the
    models ``after`` names. -#}
{% test column_checks(after=[]) %}
    {%- set relation = kwargs.model -%}
    {%- set checks = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == "test"
            and node.attached_node == model.attached_node
            and node.test_metadata
            and node.test_metadata.name in ["not_null", "unique", "accepted_values", "relationships", "expression_is_true", "unique_combination_of_columns"]
            and "whole_suite" not in node.tags -%}
            {%- if node.config.where or node.config.severity | lower != "error" -%}
                {{ exceptions.raise_compiler_error(
                    "column_checks cannot run " ~ node.name ~ " (it has a where or severity)") }}
            {%- endif -%}
            {%- if node.test_metadata.name == "relationships" -%}
                {%- for parent in node.depends_on.nodes
                    if parent != node.attached_node and parent not in model.depends_on.nodes -%}
                    {{ exceptions.raise_compiler_error(
                        "column_checks of " ~ node.attached_node ~ " cannot run " ~ node.name
                        ~ ": add ref('" ~ graph.nodes[parent].name ~ "') to its `after`") }}
                {%- endfor -%}
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
            {%- set args = node.test_metadata.kwargs %}
            {%- set column = args.column_name %}
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
            {%- elif kind == "accepted_values" %}
                {%- set quote = args.get("quote", true) %}
    from {{ relation }}
    where {{ column }} not in (
                {%- for value in args["values"] -%}
                    {{ "'" ~ value | replace("'", "''") ~ "'" if quote else value }}{{ ", " if not loop.last }}
                {%- endfor -%}
    )
            {%- elif kind == "relationships" %}
                {%- set parent = node.depends_on.nodes | reject("equalto", node.attached_node) | first %}
    {#- A join, as dbt's own test: `not exists` here took ~3x the time and memory in one
        query with the model's other checks (over 100 MB at 1M plays). #}
    from (select {{ column }} as from_field from {{ relation }} where {{ column }} is not null) as child
    left join {{ (graph.nodes.get(parent) or graph.sources[parent]).relation_name }} as parent
        on child.from_field = parent.{{ args.field }}
    where parent.{{ args.field }} is null
            {%- elif kind == "expression_is_true" %}
    from {{ relation }} where not ({{ args.expression }})
            {%- else %}
    from (
        select {{ args.combination_of_columns | join(", ") }} from {{ relation }}
        group by {{ args.combination_of_columns | join(", ") }} having count(*) > 1
    ) as duplicated
            {%- endif %}
            {{- "\n    union all" if not loop.last }}
        {%- endfor %}
) as checks
where failing_rows > 0
    {%- endif %}
{% endtest %}
