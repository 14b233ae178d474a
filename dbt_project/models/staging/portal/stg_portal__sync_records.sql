-- One row per push the portal applied (an event). synced_at is the portal's reported sync time
-- (NgayDongBo); applied_at when the portal recorded it (NgayCapNhat), which may be later.
with

source as (

    select * from {{ source('portal', 'sync_records') }}

),

deduplicated as (

    select distinct on (record_key) *
    from source
    order by record_key asc, changed_at desc

),

renamed as (

    select
        -- keys
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
        _load_id

    from deduplicated

)

select * from renamed
