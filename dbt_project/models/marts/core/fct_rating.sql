{{
    config(
        materialized='incremental',
        unique_key='rating_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        meta={'row_scope': 'dossier_code', 'upstream_models': ['stg_portal__ratings']},
        indexes=[{'columns': ['dossier_code']}, {'columns': ['rated_at']}],
    )
}}
-- depends_on: {{ ref('fct_dossier') }} (its row-level security policy reads fct_dossier)
-- One row per satisfaction rating of a dossier on the portal. Level (MucDoHaiLong): 1 very satisfied,
-- 2 satisfied, 3 acceptable, 4 not satisfied (the negative answer the 766 index counts).
select
    rating_id,
    province_code,
    dossier_code,
    satisfaction_level,
    case satisfaction_level
        when 1 then 'Rất hài lòng' when 2 then 'Hài lòng' when 3 then 'Chấp nhận được'
        when 4 then 'Không hài lòng'
    end as satisfaction_name_vi,
    satisfaction_level = 4 as is_negative,
    rated_at,
    {{ local_date('rated_at') }} as rated_date,
    recorded_at,
    {{ model_stamp() }} as _build_load_id
from {{ ref('stg_portal__ratings') }}
{% if is_incremental() %}
    where {{ upstream_since() }}
{% endif %}
