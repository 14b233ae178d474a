{#-
  Change detection for the dossier-keyed incremental models: the dossiers that upstream rows stamped
  after this model's mark touch. Models keep it in a materialized CTE `touched` and filter their inputs
  with `dossier_code in (select dossier_code from touched)`: the planner then knows how many there are
  and looks a few up by index in an hourly build, or hash-joins a month's worth in a catch-up. The model
  recomputes those dossiers whole, so a late change to an old dossier updates its row, and the result
  equals a full refresh.
-#}
{% macro touched_dossiers(relations) -%}
    {%- for r in relations %}
    select dossier_code from {{ r }} where {{ upstream_since() }}{% if not loop.last %}
    union{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- The local (Asia/Ho_Chi_Minh) calendar date of a timestamptz. -#}
{% macro local_date(ts) -%}
    (({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::date
{%- endmacro %}

{#- The first day of the local month of a timestamptz. -#}
{% macro local_month(ts) -%}
    date_trunc('month', ({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::date
{%- endmacro %}
