{{
    config(
        materialized='incremental',
        unique_key='application_code',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        meta={'upstream_models': ['stg_portal__online_applications']},
        indexes=[{'columns': ['application_code'], 'unique': True}, {'columns': ['_build_load_id']}],
    )
}}
-- One row per portal application: when it was filed, and when (if ever) a version carrying the
-- one-stop's dossier code arrived, i.e. when the one-stop handled it.
select
    province_code,
    application_code,
    min(filed_at) as filed_at,
    min(recorded_at) as first_recorded_at,
    min(recorded_at) filter (where dossier_code is not null) as linked_at,
    min(dossier_code) as dossier_code,
    min(agency_code) as agency_code,
    min(procedure_code) as procedure_code,
    min(applicant_key) as applicant_key,
    {{ model_stamp() }} as _build_load_id
from {{ ref('stg_portal__online_applications') }}
{% if is_incremental() %}
    where application_code in (
        select application_code from {{ ref('stg_portal__online_applications') }}
        where {{ upstream_since() }}
    )
{% endif %}
group by province_code, application_code
