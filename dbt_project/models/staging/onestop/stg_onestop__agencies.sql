-- Every version of every agency (a slowly changing catalogue: dim_agency is built from the versions).
-- province_code is the province whose one-stop serves the agency; its own MaTinh must name the same one.
with

source as (

    select * from {{ source('onestop', 'agencies') }}

),

versions as (

    select distinct on (province_code, record_key, changed_at) *
    from source
    order by province_code, record_key, changed_at, _record_hash

),

renamed as (

    select
        -- keys
        province_code,
        record_key as agency_code,
        payload ->> 'MaDonViHanhChinh' as admin_unit_code,
        payload ->> 'MaTinh' as agency_province_code,
        payload ->> 'MaDonViKeThua' as successor_agency_code,

        -- attributes
        payload ->> 'TenDonVi' as agency_name,
        payload ->> 'CapDonVi' as agency_level,

        -- times
        (payload ->> 'HieuLucTu')::date as effective_from_date,
        (payload ->> 'HieuLucDen')::date as effective_to_date,
        changed_at as recorded_at,

        -- lineage
        _load_id

    from versions

)

select * from renamed
