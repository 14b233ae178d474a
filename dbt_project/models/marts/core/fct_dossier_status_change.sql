{{
    config(
        materialized='incremental',
        unique_key='status_change_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        partition_by_month={'column': 'recorded_at', 'raw': ['onestop', 'status_changes']},
        pre_hook="{{ ensure_month_partitions() }}",
        meta={'row_scope': 'agency_code', 'upstream_models': ['stg_onestop__status_changes']},
        indexes=[{'columns': ['dossier_code']}, {'columns': ['recorded_at']}, {'columns': ['status_change_id']}],
    )
}}
-- One row per status change of a dossier, in the order the one-stop recorded them.
{%- set upstream = [ref('stg_onestop__status_changes')] %}
with

{% if is_incremental() %}
    touched as materialized (
        {{ touched_dossiers(upstream) }}
    ),
{% endif %}

changes as (

    select
        *,
        row_number() over (partition by dossier_code order by recorded_at, status_change_id) as sequence_number,
        lag(status_code) over (partition by dossier_code order by recorded_at, status_change_id)
            as previous_status_code
    from {{ ref('stg_onestop__status_changes') }}
    {% if is_incremental() %}
        where dossier_code in (select t.dossier_code from touched as t)
    {% endif %}

)

select
    status_change_id,
    province_code,
    dossier_code,
    dossier_id,
    agency_code,
    sequence_number,
    status_code,
    previous_status_code,
    (status_code = 5 and previous_status_code is distinct from 5) as is_supplement_request,
    is_handover,
    note,
    changed_at,
    recorded_at,
    {{ local_date('changed_at') }} as changed_date,
    extract(epoch from recorded_at - changed_at)::bigint as recording_delay_seconds,
    {{ model_stamp() }} as _build_load_id
from changes
{% if is_incremental() %}
    -- a change alters its dossier's later rows only (their sequence and previous status): the rows from the
    -- earliest new change, or the earliest place a changed row held, on
    where recorded_at >= (
        select least(min(u.recorded_at), min(f.recorded_at))
        from {{ ref('stg_onestop__status_changes') }} as u
        left join {{ this }} as f on u.status_change_id = f.status_change_id
        where u._build_load_id > {{ build_since() }}
    )
{% endif %}
