-- Every version of every agency (a slowly changing catalogue: dim_agency is built from the versions).
with

source as (

    select * from {{ source('onestop', 'agencies') }}

),

versions as (

    select distinct on (record_key, changed_at) *
    from source
    order by record_key, changed_at, _record_hash

),

renamed as (

    select
        -- keys
        record_key as agency_code,
        payload ->> 'MaDonViHanhChinh' as admin_unit_code,
        payload ->> 'MaTinh' as province_code,
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
