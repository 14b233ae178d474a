{{
    config(
        materialized='incremental',
        unique_key='payment_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        meta={'row_scope': 'dossier_code', 'upstream_models': ['stg_portal__payments']},
        indexes=[{'columns': ['dossier_code']}, {'columns': ['paid_at']}],
    )
}}
-- depends_on: {{ ref('fct_dossier') }} (its row-level security policy reads fct_dossier)
-- One row per online payment of a dossier's fee (1 via the national portal, 2 via the provincial
-- gateway). Join fct_dossier on dossier_code for the agency and procedure.
select
    payment_id,
    province_code,
    dossier_code,
    payment_channel_code,
    case payment_channel_code when 1 then 'national portal' when 2 then 'provincial gateway' end
        as payment_channel_name,
    amount,
    paid_at,
    {{ local_date('paid_at') }} as paid_date,
    recorded_at,
    {{ model_stamp() }} as _build_load_id
from {{ ref('stg_portal__payments') }}
{% if is_incremental() %}
    where {{ upstream_since() }}
{% endif %}
