-- noqa: disable=LT02
{#- (sqlfluff: a macro body is indented like the code around it, not as a top-level statement.) -#}
{#-
  How the incremental models know what is new.

  * A build reads the raw loads of one window, opened under an exclusive advisory lock that waits for
    the loads in flight (each holds it shared for its transaction): every load up to the window's upper
    load id has committed or failed, so a load that commits late is never skipped.
  * Each incremental model records how far it has processed (audit.model_watermark), whether or not the
    build brought it new rows: staging up to the build's window, a later model up to the least of its
    upstream models' (meta.upstream_models). Its rows carry that as _build_load_id.
  * A model reads what arrived after its own mark: raw rows loaded after it (staging), or upstream rows
    stamped after it (later layers). Upstream rows not yet read always carry a larger stamp, so nothing
    is skipped, whether the models run in one dbt invocation or one invocation each (Cosmos LOCAL).

  on-run-start opens the window for `tthc build` and a plain `dbt build`; the Airflow DAG opens it in a
  task before the dbt tasks, which run with `open_window: false`.
-#}
{% macro open_build_window() %}
    {% if var('open_window', true) %}
        select pg_advisory_lock(hashtext('tthc.raw_loads'));
        insert into audit.build_window (upper_load_id)
        select coalesce(max(load_id), 0) from audit.load_run where status = 'success';
        select pg_advisory_unlock(hashtext('tthc.raw_loads'));
    {% else %}
        select 1;
    {% endif %}
{% endmacro %}

{#- The newest window's upper bound: the last raw load this build may read. -#}
{% macro build_upper() -%}
    (select coalesce(max(upper_load_id), 0) from audit.build_window)
{%- endmacro %}

{#- How far this incremental model has processed (-1 before its first build, or in a full refresh). -#}
{% macro build_since() -%}
    {%- if is_incremental() -%}
        (select coalesce(max(processed_window), -1) from audit.model_watermark where model_name = '{{ this.identifier }}')
    {%- else -%}
        -1
    {%- endif -%}
{%- endmacro %}

{#- The mark this build processes up to: the window (staging) or the least of the upstream models' marks. -#}
{% macro model_stamp() -%}
    {%- set upstream = (model.config.get('meta') or {}).get('upstream_models') if model is mapping else none -%}
    {%- if upstream -%}
        coalesce(least(
            {%- for name in upstream %}
            (select max(processed_window) from audit.model_watermark where model_name = '{{ name }}'){% if not loop.last %},{% endif %}
            {%- endfor %}
        ), 0)
    {%- else -%}
        {{ build_upper() }}
    {%- endif -%}
{%- endmacro %}

{#- post-hook of every incremental model: note how far it has processed. -#}
{% macro record_watermark() -%}
    {%- if model.config.materialized == 'incremental' -%}
        insert into audit.model_watermark (model_name, processed_window, updated_at)
        values ('{{ this.identifier }}', {{ model_stamp() }}, now())
        on conflict (model_name) do update
        set processed_window = excluded.processed_window, updated_at = excluded.updated_at
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- Staging: the raw rows loaded after this model's mark, within the build's window. -#}
{% macro raw_since_last_build() -%}
    _load_id > {{ build_since() }} and _load_id <= {{ build_upper() }}
{%- endmacro %}

{#- Staging: the keys of a raw table that loads since this model's last build touched. -#}
{% macro raw_touched_keys(source_name, table_name) -%}
    select record_key from {{ source(source_name, table_name) }} where {{ raw_since_last_build() }}
{%- endmacro %}

{#-
  Staging of a raw log partitioned by month (tthc.load.loader): the versions of the records that loads
  since this model's last build touched, from the oldest change those loads brought on, up to the newest
  change any load brought. A record's current version is never older than a version just loaded, nor
  newer than everything loaded, so nothing the model needs is outside; and the bounds are constants when
  the model is compiled (audit.load_run.oldest_changed_at, newest_changed_at), so PostgreSQL plans the
  read on the partitions between them: an hourly build touches the current month only.
-#}
{% macro raw_increment(source_name, table_name) -%}
    {%- set bounds = raw_increment_bounds(source_name, table_name) -%}
    changed_at between {{ bounds[0] }} and {{ bounds[1] }}
    and (province_code, record_key) in (
        select province_code, record_key from {{ source(source_name, table_name) }}
        where {{ raw_since_last_build() }} and changed_at between {{ bounds[0] }} and {{ bounds[1] }}
    )
{%- endmacro %}

{#- The oldest change the loads after this model's mark brought, and the newest any load up to the
    build's window brought, as timestamptz literals ('infinity' and '-infinity': nothing new). -#}
{% macro raw_increment_bounds(source_name, table_name) -%}
    {%- set found = [none, none] -%}
    {%- if execute -%}
        {%- set query -%}
            select
                to_char(min(oldest_changed_at) filter (where load_id > {{ build_since() }}) at time zone 'UTC',
                        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                to_char(max(newest_changed_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            from audit.load_run
            where source = '{{ source_name }}' and entity = '{{ table_name }}' and status = 'success'
                and load_id <= {{ build_upper() }}
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {%- set found = [row[0], row[1]] -%}
    {%- endif -%}
    {{ return(["'" ~ (found[0] or "infinity") ~ "'::timestamptz", "'" ~ (found[1] or "-infinity") ~ "'::timestamptz"]) }}
{%- endmacro %}

{#- Later layers: the upstream rows stamped after this model's mark. -#}
{% macro upstream_since() -%}
    _build_load_id > {{ build_since() }}
{%- endmacro %}
