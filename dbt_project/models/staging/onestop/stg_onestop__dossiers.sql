{{
    config(
        materialized='incremental',
        unique_key='dossier_code',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['dossier_code'], 'unique': True}, {'columns': ['_build_load_id']}, {'columns': ['applicant_key']}],
    )
}}
-- One row per dossier: its current version (latest recorded; PhienBan breaks a tie in one second).
-- The applicant's ID number leaves as an HMAC and as the few attributes it encodes; name and phone stay.
with

source as (

    select * from {{ source('onestop', 'dossiers') }}
    {% if is_incremental() %}
        where {{ raw_increment('onestop', 'dossiers') }}
    {% endif %}

),

current_version as (

    select distinct on (province_code, record_key) *
    from source
    order by province_code asc, record_key asc, changed_at desc, (payload ->> 'PhienBan')::int desc

),

renamed as (

    select
        -- keys
        province_code,
        record_key as dossier_code,
        dossier_id,
        payload ->> 'MaTTHC' as procedure_code,
        payload ->> 'DonViXuLy' as agency_code,
        payload ->> 'MaDonViHanhChinh' as admin_unit_code,
        {{ hmac_sha256('applicant_id') }} as applicant_key,

        -- the applicant, as far as the ID number tells (12-digit personal IDs of citizens only)
        applicant_type as applicant_type_code,
        case
            when applicant_type = 1 and length(applicant_id) = 12
                then
                    case when substr(applicant_id, 4, 1)::int % 2 = 0 then 'male' else 'female' end
        end as applicant_gender,
        case
            when applicant_type = 1 and length(applicant_id) = 12
                then
                    (1900 + 100 * (substr(applicant_id, 4, 1)::int / 2) + substr(applicant_id, 5, 2)::int) / 10 * 10
        end as applicant_birth_decade,
        case when applicant_type = 1 and length(applicant_id) = 12 then substr(applicant_id, 2, 2) end
            as applicant_birth_province_code,
        length(applicant_id) = 9 as has_legacy_id_card,

        -- codes
        status as status_code,
        (payload ->> 'KenhThucHien')::int as channel_code,
        payload ->> 'MaLinhVuc' as field_name,

        -- times
        (payload ->> 'NgayNopHoSo')::timestamptz as filed_at,
        (payload ->> 'NgayTiepNhan')::timestamptz as received_at,
        (payload ->> 'NgayHenTra')::timestamptz as due_at,
        (payload ->> 'NgayKetThucXuLy')::timestamptz as finished_at,
        changed_at as last_recorded_at,

        -- flags (the portal scores them)
        (payload ->> 'HoSoToanTrinh')::int = 1 as is_full_process_online,
        (payload ->> 'HoSoCoThanhPhanSoHoa')::int = 1 as is_digitised,
        (payload ->> 'CoKetQuaDienTu')::int = 1 as has_e_result,
        (payload ->> 'DuocTaiSuDungDuLieu')::int = 1 as reused_digitised_data,
        (payload ->> 'DuocLayTuKhoDMQG')::int = 1 as used_data_store,
        (payload ->> 'DuocChungThucDienTu')::int = 1 as has_certified_e_copy,
        (payload ->> 'TaiKhoanDuocXacThucVoiVNeID')::int = 1 as is_vneid_verified,
        payload ->> 'MaCSDL' is not null as used_population_data,
        (payload ->> 'NopThayCongDan')::int = 1 as is_filed_by_civil_servant,
        nullif((payload ->> 'DuocThanhToanTrucTuyen')::int, 0) as online_payment_channel_code,

        -- amounts
        (payload ->> 'LePhi')::bigint as fee_amount,

        -- apology letter (phiếu xin lỗi)
        payload -> 'PhieuXinLoi' ->> 'LyDo' as apology_reason,
        (payload -> 'PhieuXinLoi' ->> 'NgayXinLoi')::timestamptz as apology_issued_at,
        (payload -> 'PhieuXinLoi' ->> 'NgayHenTraMoi')::timestamptz as apology_new_due_at,

        -- lineage
        (payload ->> 'PhienBan')::int as version_number,
        _load_id,
        {{ model_stamp() }} as _build_load_id

    from current_version

)

select * from renamed
