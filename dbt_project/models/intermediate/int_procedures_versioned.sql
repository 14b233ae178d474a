-- SCD2 of the procedure catalogue from the version log. A procedure is a province's version of a national
-- code (each one-stop serves its own catalogue): its identity is (province_code, procedure_code).
with

versions as (

    select * from {{ ref('stg_onestop__procedures') }}

),

windowed as (

    select
        *,
        lead(recorded_at) over (partition by province_code, procedure_code order by recorded_at) as next_recorded_at
    from versions

)

select
    {{ surrogate_key(['province_code', 'procedure_code', 'recorded_at']) }} as procedure_key,
    province_code,
    procedure_code,
    procedure_name,
    field_name,
    procedure_level,
    statutory_working_days,
    online_service_type,
    is_published,
    is_synced_to_national_catalogue,
    has_payment_integrated,
    has_e_workflow_published,
    is_project_06,
    fee_amount,
    recorded_at as valid_from,
    next_recorded_at as valid_to,
    next_recorded_at is null as is_current
from windowed
