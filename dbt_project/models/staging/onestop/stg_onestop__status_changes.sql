{{
    config(
        materialized='incremental',
        unique_key='status_change_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['status_change_id'], 'unique': True}, {'columns': ['dossier_code']}, {'columns': ['_build_load_id']}, {'columns': ['recorded_at']}, {'columns': ['changed_at']}],
    )
}}
-- One row per status change (an event: its log is its history). The sequence key MaQuaTrinh orders
-- changes the one-stop recorded in the same second.
with

source as (

    select * from {{ source('onestop', 'status_changes') }}
    {% if is_incremental() %}
        where {{ raw_increment('onestop', 'status_changes') }}
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
        record_key as status_change_id,
        (payload ->> 'HoSoID')::bigint as dossier_id,
        dossier_code,
        payload ->> 'DonViXuLy' as agency_code,

        -- codes
        status as status_code,
        payload ->> 'GhiChu' as note,
        nullif(trim(payload ->> 'GhiChu'), '') is not null as is_handover,

        -- times
        (payload ->> 'ThoiGian')::timestamptz as changed_at,
        changed_at as recorded_at,

        -- lineage
        _load_id,
        {{ model_stamp() }} as _build_load_id

    from deduplicated

)

select * from renamed
