{{
    config(
        materialized='incremental',
        unique_key='petition_code',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        meta={'row_scope': 'agency_code', 'upstream_models': ['stg_portal__petitions']},
        indexes=[{'columns': ['agency_code']}, {'columns': ['answered_at']}, {'columns': ['due_at']}],
    )
}}
-- One row per petition (phản ánh, kiến nghị) on the portal: received, due (10 working days),
-- answered, and the petitioner's satisfaction (1 satisfied, 2 acceptable, 3 not satisfied).
select
    petition_code,
    province_code,
    agency_code,
    field_name,
    received_at,
    {{ local_date('received_at') }} as received_date,
    due_at,
    answered_at,
    answered_at is not null as is_answered,
    answered_at <= due_at as is_answered_on_time,
    satisfaction_level,
    satisfaction_level in (1, 2) as is_satisfied,
    recorded_at,
    {{ model_stamp() }} as _build_load_id
from {{ ref('stg_portal__petitions') }}
{% if is_incremental() %}
    where {{ upstream_since() }}
{% endif %}
