{#- dbt_utils.expression_is_true, re-implemented (no `dbt deps`): rows where the expression
    is false fail. Works on a model or a column (column_name is then ignored). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
