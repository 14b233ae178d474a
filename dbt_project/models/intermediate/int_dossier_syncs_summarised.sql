{{
    config(
        materialized='incremental',
        unique_key='dossier_code',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        meta={'upstream_models': ['stg_portal__sync_records']},
        indexes=[{'columns': ['dossier_code'], 'unique': True}, {'columns': ['_build_load_id']}],
    )
}}
{%- set upstream = [ref('stg_portal__sync_records')] %}
-- Per dossier, what the portal holds of it: first and latest sync, how many pushes, and the status
-- its latest push carries (by reported sync time, MaQuaTrinh breaking ties).
with

{% if is_incremental() %}
    touched as materialized (
        {{ touched_dossiers(upstream) }}
    ),
{% endif %}

pushes as (

    select
        *,
        row_number() over (partition by dossier_code order by synced_at desc, status_change_id desc) as recency
    from {{ ref('stg_portal__sync_records') }}
    {% if is_incremental() %}
        where dossier_code in (select t.dossier_code from touched as t)
    {% endif %}

)

select
    province_code,
    dossier_code,
    min(synced_at) as first_synced_at,
    max(synced_at) as latest_synced_at,
    count(*) as push_count,
    min(status_code) filter (where recency = 1) as portal_status_code,
    {{ model_stamp() }} as _build_load_id
from pushes
group by province_code, dossier_code
