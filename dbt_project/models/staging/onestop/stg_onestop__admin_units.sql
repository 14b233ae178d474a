-- Every version of every administrative unit (before and after the 2025-07-01 reform).
with

source as (

    select * from {{ source('onestop', 'admin_units') }}

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
        record_key as unit_code,
        payload ->> 'MaDonViCha' as parent_unit_code,
        payload ->> 'MaDonViMoi' as successor_unit_code,
        (
            select string_agg(value, ',' order by value)
            from jsonb_array_elements_text(
                case
                    when jsonb_typeof(payload -> 'MaDonViSapNhap') = 'array' then payload -> 'MaDonViSapNhap'
                    else '[]'::jsonb
                end
            )
        ) as merged_unit_codes,  -- the units merged into this one, comma-separated

        -- attributes
        payload ->> 'TenDonViHanhChinh' as unit_name,
        case payload ->> 'CapDonVi' when 'tinh' then 'province' when 'huyen' then 'district' else 'commune' end
            as unit_level,

        -- times
        (payload ->> 'HieuLucTu')::date as effective_from_date,
        (payload ->> 'HieuLucDen')::date as effective_to_date,
        changed_at as recorded_at,

        -- lineage
        _load_id

    from versions

)

select * from renamed
