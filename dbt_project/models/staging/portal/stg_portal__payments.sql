-- One row per online payment (an event).
with

source as (

    select * from {{ source('portal', 'payments') }}

),

deduplicated as (

    select distinct on (record_key) *
    from source
    order by record_key asc, changed_at desc

),

renamed as (

    select
        -- keys
        record_key as payment_id,
        dossier_code,

        -- codes
        (payload ->> 'KenhThanhToan')::int as payment_channel_code,

        -- amounts
        (payload ->> 'SoTien')::bigint as amount,

        -- times
        (payload ->> 'NgayThanhToan')::timestamptz as paid_at,
        changed_at as recorded_at,

        -- lineage
        _load_id

    from deduplicated

)

select * from renamed
