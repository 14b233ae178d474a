{#- Row-level security on a mart an inspector reads (post-hook of every mart). The model's meta
    `row_scope` says how a row belongs to an agency: `agency_code` (its own column) or `dossier_code`
    (through fct_dossier, whose policy then applies). audit.scoped_agencies() (sql/access.sql) is NULL
    for a login that is not scoped to a unit: BI and provincial inspectors see every row. (A view filters
    in its own WHERE with the same function: it reads audit.* with its owner's rights.) -#}
{% macro row_level_security() %}
    {%- set scope = (config.get('meta') or {}).get('row_scope') -%}
    {%- set everyone = "(select audit.scoped_agencies()) is null" -%}
    {%- if scope == 'agency_code' and model.config.materialized != 'view' -%}
        alter table {{ this }} enable row level security;
        drop policy if exists scoped_inspector on {{ this }};
        create policy scoped_inspector on {{ this }} for select
        using ({{ everyone }} or agency_code = any((select audit.scoped_agencies())::text[]))
    {%- elif scope == 'dossier_code' -%}
        alter table {{ this }} enable row level security;
        drop policy if exists scoped_inspector on {{ this }};
        create policy scoped_inspector on {{ this }} for select
        using ({{ everyone }} or exists (
            select 1 from {{ this.schema }}.fct_dossier as d where d.dossier_code = {{ this.identifier }}.dossier_code
        ))
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}
