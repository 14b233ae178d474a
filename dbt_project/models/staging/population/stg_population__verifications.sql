{{
    config(
        materialized='incremental',
        unique_key='applicant_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['applicant_key'], 'unique': True}, {'columns': ['_build_load_id']}],
    )
}}
-- One row per verified ID number: the latest answer of the population database. The ID leaves as an
-- HMAC (the same as the dossiers' applicant_key).
with

source as (

    select * from {{ source('population', 'verifications') }}
    {% if is_incremental() %}
        where record_key in ({{ raw_touched_keys('population', 'verifications') }})
    {% endif %}

),

latest as (

    select distinct on (record_key) *
    from source
    order by record_key asc, changed_at desc

),

renamed as (

    select
        -- keys
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
