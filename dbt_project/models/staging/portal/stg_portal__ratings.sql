{{
    config(
        materialized='incremental',
        unique_key='rating_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['rating_id'], 'unique': True}, {'columns': ['dossier_code']}, {'columns': ['_build_load_id']}],
    )
}}
-- One row per satisfaction rating (an event). MucDoHaiLong: 1 very satisfied, 2 satisfied,
-- 3 acceptable, 4 not satisfied.
with

source as (

    select * from {{ source('portal', 'ratings') }}
    {% if is_incremental() %}
        where record_key in ({{ raw_touched_keys('portal', 'ratings') }})
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
        record_key as rating_id,
        dossier_code,

        -- codes
        (payload ->> 'MucDoHaiLong')::int as satisfaction_level,

        -- times
        (payload ->> 'NgayDanhGia')::timestamptz as rated_at,
        changed_at as recorded_at,

        -- lineage
        _load_id,
        {{ model_stamp() }} as _build_load_id

    from deduplicated

)

select * from renamed
