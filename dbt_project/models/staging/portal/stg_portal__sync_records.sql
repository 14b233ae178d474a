{{
    config(
        materialized='incremental',
        unique_key='sync_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['sync_id'], 'unique': True}, {'columns': ['dossier_code']}, {'columns': ['status_change_id']}, {'columns': ['_build_load_id']}, {'columns': ['applied_at']}, {'columns': ['synced_at']}],
    )
}}
-- One row per push the portal applied (an event). synced_at is the portal's reported sync time
-- (NgayDongBo); applied_at when the portal recorded it (NgayCapNhat), which may be later.
with

source as (

    select * from {{ source('portal', 'sync_records') }}
    {% if is_incremental() %}
        where {{ raw_increment('portal', 'sync_records') }}
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
        record_key as sync_id,
        payload ->> 'MaQuaTrinh' as status_change_id,
        dossier_code,
        payload ->> 'DonViXuLy' as agency_code,
        payload ->> 'MaTTHC' as procedure_code,
        {{ hmac_sha256("payload ->> 'SoGiayToChuHoSo'") }} as applicant_key,

        -- codes
        status as status_code,
        (payload ->> 'KenhThucHien')::int as channel_code,

        -- times
        (payload ->> 'ThoiGianThayDoi')::timestamptz as changed_at,
        (payload ->> 'NgayDongBo')::timestamptz as synced_at,
        changed_at as applied_at,
        (payload ->> 'NgayHenTra')::timestamptz as due_at,

        -- lineage
        _load_id,
        {{ model_stamp() }} as _build_load_id

    from deduplicated

)

select * from renamed
