{{
    config(
        materialized='incremental',
        unique_key='petition_code',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['petition_code'], 'unique': True}, {'columns': ['_build_load_id']}],
    )
}}
-- One row per petition (phản ánh, kiến nghị): its current version. MucDoHaiLong: 1 satisfied,
-- 2 acceptable, 3 not satisfied.
with

source as (

    select * from {{ source('portal', 'petitions') }}
    {% if is_incremental() %}
        where record_key in ({{ raw_touched_keys('portal', 'petitions') }})
    {% endif %}

),

current_version as (

    select distinct on (province_code, record_key) *
    from source
    order by province_code asc, record_key asc, changed_at desc

),

renamed as (

    select
        -- keys
        province_code,
        record_key as petition_code,
        payload ->> 'DonViXuLy' as agency_code,

        -- attributes
        payload ->> 'LinhVuc' as field_name,
        (payload ->> 'TrangThai')::int as petition_status_code,
        (payload ->> 'MucDoHaiLong')::int as satisfaction_level,

        -- times
        (payload ->> 'NgayTiepNhan')::timestamptz as received_at,
        (payload ->> 'HanXuLy')::timestamptz as due_at,
        (payload ->> 'NgayTraLoi')::timestamptz as answered_at,
        changed_at as recorded_at,

        -- lineage
        _load_id,
        {{ model_stamp() }} as _build_load_id

    from current_version

)

select * from renamed
