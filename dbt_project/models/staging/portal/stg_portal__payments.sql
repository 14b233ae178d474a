{{
    config(
        materialized='incremental',
        unique_key='payment_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['payment_id'], 'unique': True}, {'columns': ['dossier_code']}, {'columns': ['_build_load_id']}],
    )
}}
-- One row per online payment (an event).
with

source as (

    select * from {{ source('portal', 'payments') }}
    {% if is_incremental() %}
        where record_key in ({{ raw_touched_keys('portal', 'payments') }})
    {% endif %}

),

deduplicated as (

    select distinct on (province_code, record_key) *
    from source
    order by province_code asc, record_key asc, changed_at desc

),

renamed as (

    select
        -- keys
        province_code,
        record_key as payment_id,
        dossier_code,

        -- codes
        (payload ->> 'KenhThanhToan')::int as payment_channel_code,

        -- amounts
        (payload ->> 'SoTien')::bigint as amount,

        -- times
        (payload ->> 'NgayThanhToan')::timestamptz as paid_at,
        changed_at as recorded_at,

        -- lineage
        _load_id,
        {{ model_stamp() }} as _build_load_id

    from deduplicated

)

select * from renamed
