{#- dbt_utils.equal_rowcount, re-implemented (no `dbt deps`): fails with one row when the model
    and compare_model hold different numbers of rows (a join that lost or doubled rows). -#}
{% test equal_rowcount(model, compare_model) %}
with counts as (
    select
        (select count(*) from {{ model }}) as model_rows,
        (select count(*) from {{ compare_model }}) as compare_rows
)
select * from counts where model_rows <> compare_rows
{% endtest %}
