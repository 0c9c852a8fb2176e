{#- Day parts of a local hour, in one place so dim_time and the pattern marts agree:
    night 00-05, morning 06-11, afternoon 12-17, evening 18-23. -#}
{% macro day_part(hour_expr) -%}
    case
        when {{ hour_expr }} < 6 then 'night'
        when {{ hour_expr }} < 12 then 'morning'
        when {{ hour_expr }} < 18 then 'afternoon'
        else 'evening'
    end
{%- endmacro %}

{% macro day_part_order(hour_expr) -%}
    case
        when {{ hour_expr }} < 6 then 1
        when {{ hour_expr }} < 12 then 2
        when {{ hour_expr }} < 18 then 3
        else 4
    end
{%- endmacro %}

{#- A listener's own popularity tier from a percent rank (0 = most listened). -#}
{% macro popularity_tier(percentile_expr) -%}
    case
        when {{ percentile_expr }} < 0.05 then 'favourite'
        when {{ percentile_expr }} < 0.20 then 'frequent'
        when {{ percentile_expr }} < 0.50 then 'regular'
        else 'occasional'
    end
{%- endmacro %}
