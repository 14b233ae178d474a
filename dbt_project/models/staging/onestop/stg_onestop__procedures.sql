-- Every version of every procedure of the catalogue (thủ tục hành chính).
with

source as (

    select * from {{ source('onestop', 'procedures') }}

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
        record_key as procedure_code,

        -- attributes
        payload ->> 'TenTTHC' as procedure_name,
        payload ->> 'LinhVuc' as field_name,
        case payload ->> 'CapThucHien'
            when 'province' then 'province' when 'district' then 'district'
            else 'commune'
        end as procedure_level,
        (payload ->> 'ThoiHanGiaiQuyet')::int as statutory_working_days,
        case payload ->> 'MucDoDVC' when 'toan_trinh' then 'full' when 'mot_phan' then 'partial' else 'none' end
            as online_service_type,

        -- flags
        (payload ->> 'CongKhai')::boolean as is_published,
        (payload ->> 'DongBoCSDLQG')::boolean as is_synced_to_national_catalogue,
        (payload ->> 'TichHopThanhToan')::boolean as has_payment_integrated,
        (payload ->> 'QuyTrinhDienTu')::boolean as has_e_workflow_published,
        (payload ->> 'DeAn06')::boolean as is_project_06,

        -- amounts
        (payload ->> 'LePhi')::bigint as fee_amount,

        -- times
        changed_at as recorded_at,

        -- lineage
        _load_id

    from versions

)

select * from renamed
