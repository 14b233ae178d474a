{{
    config(
        materialized='incremental',
        unique_key='status_change_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        meta={'upstream_models': ['stg_onestop__status_changes', 'stg_portal__sync_records']},
        indexes=[{'columns': ['status_change_id'], 'unique': True}, {'columns': ['_build_load_id']}],
    )
}}
{%- set upstream = [ref('stg_onestop__status_changes'), ref('stg_portal__sync_records')] %}
-- Each one-stop status change matched to its portal sync (by MaQuaTrinh): the first push, when the
-- portal applied it, how many pushes there were, and the delay from the one-stop's record to the
-- portal's reported sync time.
with

{% if is_incremental() %}
    touched as materialized (
        {{ touched_dossiers(upstream) }}
    ),
{% endif %}

changes as (

    select * from {{ ref('stg_onestop__status_changes') }}
    {% if is_incremental() %}
        where dossier_code in (select t.dossier_code from touched as t)
    {% endif %}

),

pushes as (

    select
        dossier_code,
        status_change_id,
        min(synced_at) as first_synced_at,
        (array_agg(applied_at order by synced_at, sync_id))[1] as first_applied_at,
        count(*) as push_count
    from {{ ref('stg_portal__sync_records') }}
    {% if is_incremental() %}
        where dossier_code in (select t.dossier_code from touched as t)
    {% endif %}
    group by dossier_code, status_change_id

)

select
    c.province_code,
    c.status_change_id,
    c.dossier_code,
    c.dossier_id,
    c.agency_code,
    c.status_code,
    c.is_handover,
    c.changed_at,
    c.recorded_at,
    p.first_synced_at,
    p.first_applied_at,
    coalesce(p.push_count, 0) as push_count,
    extract(epoch from p.first_synced_at - c.recorded_at)::bigint as sync_delay_seconds,
    {{ model_stamp() }} as _build_load_id
from changes as c
left join pushes as p on c.dossier_code = p.dossier_code and c.status_change_id = p.status_change_id
