{#- A stable text key from several columns (md5 of their values joined; null as an empty string). -#}
{% macro surrogate_key(columns) -%}
    md5({% for c in columns %}coalesce(cast({{ c }} as text), ''){% if not loop.last %} || '|' || {% endif %}{% endfor %})
{%- endmacro %}
