{{
    config(
        materialized='incremental',
        unique_key=['province_code', 'applicant_key'],
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['province_code', 'applicant_key'], 'unique': True}, {'columns': ['_build_load_id']}],
    )
}}
-- One row per province and verified ID number: the latest answer of the population database to that
-- province's batch (two provinces may verify the same person). The ID leaves as an HMAC (the same as the
-- dossiers' applicant_key).
with

source as (

    select * from {{ source('population', 'verifications') }}
    {% if is_incremental() %}
        where record_key in ({{ raw_touched_keys('population', 'verifications') }})
    {% endif %}

),

latest as (

    select distinct on (province_code, record_key) *
    from source
    order by province_code asc, record_key asc, changed_at desc

),

renamed as (

    select
        -- keys
        province_code,
        {{ hmac_sha256('record_key') }} as applicant_key,

        -- outcome
        result as verification_result,
        array(select jsonb_array_elements_text(payload -> 'mismatched')) as mismatched_fields,

        -- times
        changed_at as verified_at,

        -- lineage
        _load_id,
        {{ model_stamp() }} as _build_load_id

    from latest

)

select * from renamed
