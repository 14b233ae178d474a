-- noqa: disable=LT02
{#- (sqlfluff: a macro body is indented like the code around it, not as a top-level statement.) -#}
{#-
  Large facts partitioned by month (PostgreSQL declarative partitioning), like the raw logs they come
  from. A model opts in with

      partition_by_month={'column': 'recorded_at', 'raw': ['onestop', 'status_changes']}

  `column` is the partition key (a timestamptz; local months, bounds at local midnight); `raw` is the raw
  log every row of the model derives from: its loads' oldest and newest changes (audit.load_run) span the
  months the model can hold. The partitions live in schema marts_partitions, which no reader role may use:
  BI tools and inspectors read the partitioned table itself, where its grants and row-level security apply.

  * Creating the table (first build, full refresh): `create table ... partition by range (column)`, one
    partition per month from the first load's to the month after the last (created ahead), then the
    insert. dbt's contract gives the column list, so the table is created before it is filled.
  * An incremental build: a pre-hook creates the months the loads since have reached, before the merge.
  Partitions are named after the model (fct_x_y2025m03), whichever relation dbt is building: a full
  refresh builds a new table beside the old one and swaps them in one transaction, so it first drops the
  old table's partitions of the same names (their rows go with the old table anyway).
-#}
{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- set partitioning = none if temporary else config.get('partition_by_month') -%}
    {%- set unlogged = config.get('unlogged', default=false) -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {%- set contract_config = config.get('contract') -%}

    {{ sql_header if sql_header is not none }}

    create {% if temporary -%}
        temporary
    {%- elif unlogged -%}
        unlogged
    {%- endif %} table {{ relation }}
    {% if contract_config.enforced %}
        {{ get_assert_columns_equivalent(sql) }}
    {% endif -%}
    {% if contract_config.enforced and (not temporary) -%}
        {{ get_table_columns_and_constraints() }}
        {%- if partitioning %} partition by range ({{ partitioning['column'] }}){% endif %};
        {%- if partitioning %}
            {{ month_partitions(relation, partitioning, replace=true) }};
        {%- endif %}
        insert into {{ relation }} (
            {{ adapter.dispatch('get_column_names', 'dbt')() }}
        )
        {%- set sql = get_select_subquery(sql) %}
    {% else %}
        as
    {% endif %}
    (
        {{ sql }}
    );
{%- endmacro %}

{#- The monthly partitions of `relation` the raw log's loads span, and the next month's (DDL statements;
    `select 1` when the log is empty). -#}
{% macro month_partitions(relation, partitioning, replace=false) -%}
    {%- set statements = [] -%}
    {%- if execute and partitioning -%}
        {%- set source_name, table_name = partitioning['raw'] -%}
        {%- set query -%}
            with span as (
                select
                    date_trunc('month', min(oldest_changed_at) at time zone 'Asia/Ho_Chi_Minh') as first_month,
                    date_trunc('month', max(newest_changed_at) at time zone 'Asia/Ho_Chi_Minh') as last_month
                from audit.load_run
                where source = '{{ source_name }}' and entity = '{{ table_name }}' and status = 'success'
            )
            select to_char(m, 'YYYY-MM-DD'), to_char(m + interval '1 month', 'YYYY-MM-DD')
            from span, generate_series(span.first_month, span.last_month + interval '1 month', interval '1 month') as m
        {%- endset -%}
        {%- for month, next_month in run_query(query).rows -%}
            {%- set name = 'marts_partitions.' ~ this.identifier ~ '_y' ~ month[0:4] ~ 'm' ~ month[5:7] -%}
            {%- if replace -%}
                {%- do statements.append('drop table if exists ' ~ name) -%}
            {%- endif -%}
            {%- do statements.append('create table if not exists ' ~ name ~ ' partition of ' ~ relation
                ~ " for values from ('" ~ month ~ " 00:00:00+07') to ('" ~ next_month ~ " 00:00:00+07')") -%}
        {%- endfor -%}
    {%- endif -%}
    {{ statements | join(';\n') if statements else 'select 1' }}
{%- endmacro %}

{#- pre-hook of a partitioned model: the months an incremental build may write, before it does. -#}
{% macro ensure_month_partitions() -%}
    {%- set partitioning = config.get('partition_by_month') -%}
    {%- if partitioning and is_incremental() -%}
        {{ month_partitions(this, partitioning) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#-
  The incremental merge into a partitioned model reads the target between the least and the greatest
  partition key of its new rows and of the stored rows they replace: the bounds are constants in the
  MERGE, so PostgreSQL plans it on those partitions only. Other models merge as dbt does.
-#}
{% macro postgres__get_incremental_merge_sql(arg_dict) %}
    {%- set partitioning = config.get('partition_by_month') -%}
    {%- set predicates = arg_dict['incremental_predicates'] or [] -%}
    {%- if partitioning and arg_dict['unique_key'] is string -%}
        {%- set bounds = merge_bounds(arg_dict['target_relation'], arg_dict['temp_relation'], arg_dict['unique_key'],
                                      partitioning['column']) -%}
        {%- set predicates = predicates + ['DBT_INTERNAL_DEST.' ~ partitioning['column'] ~ ' between ' ~ bounds[0]
                                           ~ ' and ' ~ bounds[1]] -%}
    {%- endif -%}
    {% do return(get_merge_sql(arg_dict['target_relation'], arg_dict['temp_relation'], arg_dict['unique_key'],
                               arg_dict['dest_columns'], predicates)) %}
{% endmacro %}

{#- The least and the greatest partition key among the new rows and the stored rows they replace (looked
    up by key: an index probe per partition), as timestamptz literals ('infinity', '-infinity': nothing). -#}
{% macro merge_bounds(target, temp, key, column) -%}
    {%- set query -%}
        with replaced as (
            select t.{{ column }} from {{ target }} as t where t.{{ key }} in (select n.{{ key }} from {{ temp }} as n)
        )
        select
            to_char(least((select min({{ column }}) from {{ temp }}), (select min({{ column }}) from replaced))
                    at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            to_char(greatest((select max({{ column }}) from {{ temp }}), (select max({{ column }}) from replaced))
                    at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    {%- endset -%}
    {%- set found = run_query(query).rows[0] if execute else [none, none] -%}
    {{ return(["'" ~ (found[0] or 'infinity') ~ "'::timestamptz", "'" ~ (found[1] or '-infinity') ~ "'::timestamptz"]) }}
{%- endmacro %}
