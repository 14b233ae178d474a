{#-
  Incremental models read the raw loads of a window: after what they already hold, up to the
  window's upper load id. The window is opened under an exclusive advisory lock that waits for the
  loads in flight (each holds it shared for its transaction), so a load that commits late is never
  skipped. `tthc` and Airflow open it through on-run-start like a plain `dbt build` does.
-#}
{% macro open_build_window() %}
    select pg_advisory_lock(hashtext('tthc.raw_loads'));
    insert into audit.build_window (upper_load_id)
    select coalesce(max(load_id), 0) from audit.load_run where status = 'success';
    select pg_advisory_unlock(hashtext('tthc.raw_loads'));
{% endmacro %}

{#- The newest window's upper bound: the last raw load this build may read. -#}
{% macro build_upper() -%}
    (select coalesce(max(upper_load_id), 0) from audit.build_window)
{%- endmacro %}

{#- What this incremental model already holds: loads up to here were processed (-1: nothing yet). -#}
{% macro build_since(column='_build_load_id') -%}
    {%- if is_incremental() -%}
        (select coalesce(max({{ column }}), -1) from {{ this }})
    {%- else -%}
        -1
    {%- endif -%}
{%- endmacro %}

{#- Rows of a raw-backed relation that arrived since this model's last build. -#}
{% macro since_last_build(load_id_column='_load_id') -%}
    {{ load_id_column }} > {{ build_since() }} and {{ load_id_column }} <= {{ build_upper() }}
{%- endmacro %}
