-- The procedure catalogue, SCD2: one row per version of a province's procedure (province_code, procedure_code).
select
    procedure_key,
    province_code,
    procedure_code,
    procedure_name,
    field_name,
    procedure_level,
    statutory_working_days,
    online_service_type,
    online_service_type = 'full' as is_full_process_eligible,
    fee_amount,
    fee_amount > 0 as has_fee,
    is_published,
    is_synced_to_national_catalogue,
    has_payment_integrated,
    has_e_workflow_published,
    is_project_06,
    valid_from,
    valid_to,
    is_current
from {{ ref('int_procedures_versioned') }}
