{{
    config(
        materialized='incremental',
        unique_key='status_change_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        partition_by_month={'column': 'recorded_at', 'raw': ['onestop', 'status_changes']},
        pre_hook="{{ ensure_month_partitions() }}",
        meta={'row_scope': 'agency_code', 'upstream_models': ['int_status_changes_synced']},
        indexes=[{'columns': ['dossier_code']}, {'columns': ['recorded_at']}, {'columns': ['agency_code', 'recorded_date']}, {'columns': ['status_change_id']}],
    )
}}
-- One row per one-stop status change with its sync to the national portal, if any, and the delay
-- from the one-stop's record of the change to the portal's reported sync time (NgayDongBo).
with

synced as (

    select * from {{ ref('int_status_changes_synced') }}
    {% if is_incremental() %}
        where {{ upstream_since() }}
    {% endif %}

)

select
    status_change_id,
    province_code,
    dossier_code,
    agency_code,
    status_code,
    is_handover,
    changed_at,
    recorded_at,
    {{ local_date('recorded_at') }} as recorded_date,
    first_synced_at,
    first_applied_at,
    push_count,
    first_synced_at is not null as is_synced,
    sync_delay_seconds,
    case
        when first_synced_at is null then 'never'
        when sync_delay_seconds <= 15 * 60 then 'within 15 min'
        when sync_delay_seconds <= 60 * 60 then 'within 1 h'
        when sync_delay_seconds <= 24 * 3600 then 'within 24 h'
        else 'later'
    end as sync_delay_band,
    sync_delay_seconds <= {{ var('sync_sla_minutes', 60) }} * 60 as is_within_sync_sla,
    {{ model_stamp() }} as _build_load_id
from synced
