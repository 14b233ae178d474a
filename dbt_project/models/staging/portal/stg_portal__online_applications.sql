{{
    config(
        materialized='incremental',
        unique_key=['application_code', 'recorded_at'],
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['application_code', 'recorded_at'], 'unique': True}, {'columns': ['_build_load_id']}, {'columns': ['recorded_at']}, {'columns': ['filed_at']}],
    )
}}
-- Every version of every application filed on the portal: the first is the filing, a later one
-- carries the one-stop's dossier code once the one-stop handled it.
with

source as (

    select * from {{ source('portal', 'online_applications') }}
    {% if is_incremental() %}
        where record_key in ({{ raw_touched_keys('portal', 'online_applications') }})
    {% endif %}

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
        record_key as application_code,
        dossier_code,
        payload ->> 'MaTTHC' as procedure_code,
        payload ->> 'DonViTiepNhan' as agency_code,
        {{ hmac_sha256("payload ->> 'SoGiayToChuHoSo'") }} as applicant_key,

        -- times
        (payload ->> 'NgayNop')::timestamptz as filed_at,
        changed_at as recorded_at,

        -- lineage
        _load_id,
        {{ model_stamp() }} as _build_load_id

    from versions

)

select * from renamed
