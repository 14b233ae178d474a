{#- Who reads a mart (post-hook of every mart; the roles in sql/bootstrap.sql and sql/access.sql).
    The model's meta `row_scope` says how a row belongs to an agency: `agency_code` (its own column),
    `dossier_code` (through fct_dossier) or `gap` (its agency, or none for a pipeline-wide gap).
    - BI and provincial inspectors read every row (audit.scoped_agencies() is NULL for them).
    - A row-scoped table also gets a row-level security policy, in case a scoped login is ever granted it.
    - Scoped inspectors (tthc_scoped_inspector) never select a row-scoped relation itself: a plan or an
      error raised before a policy or a view's filter runs would show other units' rows. They read
      scoped.<model>, a view over a security-definer function that returns their unit's rows only.
      The function is dropped and created again on every build, since a rebuilt table is a new row type.
    - Unscoped marts (the dimensions) are granted to scoped inspectors as they are.
    - A view is a security barrier: callers' expressions never run on rows its own filter drops. -#}
{% macro row_level_security() %}
    {%- set scope = (config.get('meta') or {}).get('row_scope') -%}
    {%- set scoped_agencies = "(select audit.scoped_agencies())" -%}
    {#- @row: the row's relation (the table in a policy, its alias in the function) -#}
    {%- set predicates = {
        'agency_code': "@row.agency_code = any(" ~ scoped_agencies ~ "::text[])",
        'gap': "@row.agency_code is null or @row.agency_code = any(" ~ scoped_agencies ~ "::text[])",
        'dossier_code': "exists (select 1 from " ~ this.schema ~ ".fct_dossier as d where d.dossier_code = "
                        ~ "@row.dossier_code and d.agency_code = any(" ~ scoped_agencies ~ "::text[]))",
    } -%}
    {%- set is_view = model.config.materialized == 'view' -%}
    {%- set sql = [] -%}
    {%- if is_view -%}
        {%- do sql.append("alter view " ~ this ~ " set (security_barrier = true)") -%}
    {%- endif -%}
    {%- if scope in ('agency_code', 'dossier_code') and not is_view -%}
        {%- do sql.append("alter table " ~ this ~ " enable row level security") -%}
        {%- do sql.append("drop policy if exists scoped_inspector on " ~ this) -%}
        {%- do sql.append("create policy scoped_inspector on " ~ this ~ " for select using (" ~ scoped_agencies
                          ~ " is null or " ~ predicates[scope] | replace('@row', this.identifier) ~ ")") -%}
    {%- endif -%}
    {%- if scope in predicates -%}
        {%- do sql.extend(scoped_reader(predicates[scope] | replace('@row', 't'))) -%}
    {%- else -%}
        {%- do sql.append("grant select on " ~ this ~ " to tthc_scoped_inspector") -%}
    {%- endif -%}
    {{ sql | join(";\n") }}
{% endmacro %}

{#- The statements that give scoped inspectors `scoped.<model>`: the rows of `this` where `predicate`
    holds for `t`, returned by a security-definer function. -#}
{% macro scoped_reader(predicate) %}
    {%- set rows_fn = "scoped." ~ this.identifier ~ "_rows" -%}
    {%- set scoped_view = "scoped." ~ this.identifier -%}
    {%- set sql = [
        "drop function if exists " ~ rows_fn ~ "() cascade",
        "create function " ~ rows_fn ~ "() returns setof " ~ this ~ " language sql stable security definer"
        ~ " set search_path = pg_catalog, pg_temp as $rows$ select t.* from " ~ this ~ " as t where " ~ predicate
        ~ " $rows$",
        "revoke all on function " ~ rows_fn ~ "() from public",
        "grant execute on function " ~ rows_fn ~ "() to tthc_scoped_inspector",
        "create view " ~ scoped_view ~ " with (security_barrier) as select * from " ~ rows_fn ~ "()",
        "grant select on " ~ scoped_view ~ " to tthc_scoped_inspector",
        "comment on view " ~ scoped_view ~ " is "
        ~ postgres_escape_comment(model.description ~ " (the rows of the login's unit)"),
    ] -%}
    {%- for name, column in model.columns.items() if column.description -%}
        {%- do sql.append("comment on column " ~ scoped_view ~ "." ~ adapter.quote(name) ~ " is "
                          ~ postgres_escape_comment(column.description)) -%}
    {%- endfor -%}
    {{ return(sql) }}
{% endmacro %}
