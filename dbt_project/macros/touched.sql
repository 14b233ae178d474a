{#-
  Change detection for incremental models: the keys that raw rows loaded since this model's last build
  touch, read straight from the raw tables by their _load_id index (staging views would scan all of
  history). The model then recomputes those keys whole from the views, so a late change to an old
  dossier updates its row, and the result equals a full refresh.
-#}
{% macro touched_dossiers(feeds=('dossiers', 'status_changes', 'sync_records')) -%}
    {%- set parts = [] -%}
    {%- if 'dossiers' in feeds -%}
        {%- do parts.append("select record_key as dossier_code from " ~ source('onestop', 'dossiers') ~ " where " ~ since_last_build()) -%}
    {%- endif -%}
    {%- if 'status_changes' in feeds -%}
        {%- do parts.append("select dossier_code from " ~ source('onestop', 'status_changes') ~ " where " ~ since_last_build()) -%}
    {%- endif -%}
    {%- for feed in ('sync_records', 'payments', 'ratings') if feed in feeds -%}
        {%- do parts.append("select dossier_code from " ~ source('portal', feed) ~ " where " ~ since_last_build()) -%}
    {%- endfor -%}
    {{ parts | join('\n    union\n    ') }}
{%- endmacro %}

{#- Keys of one raw table loaded since this model's last build. -#}
{% macro touched_keys(source_name, table_name) -%}
    select record_key from {{ source(source_name, table_name) }} where {{ since_last_build() }}
{%- endmacro %}

{#- The local (Asia/Ho_Chi_Minh) calendar date of a timestamptz. -#}
{% macro local_date(ts) -%}
    (({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::date
{%- endmacro %}

{#- The first day of the local month of a timestamptz. -#}
{% macro local_month(ts) -%}
    date_trunc('month', ({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::date
{%- endmacro %}
