{{
    config(
        materialized='incremental',
        unique_key='dossier_code',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        meta={'row_scope': 'agency_code', 'upstream_models': ['int_dossier_lifecycle', 'stg_onestop__dossiers', 'int_dossier_syncs_summarised']},
        indexes=[
            {'columns': ['applicant_key']},
            {'columns': ['agency_code']},
            {'columns': ['received_at']},
            {'columns': ['finished_at']},
            {'columns': ['due_at']},
            {'columns': ['_build_load_id']},
        ],
    )
}}
-- One row per dossier, an accumulating snapshot: its milestones as they happen, the 766 on-time
-- verdict once it is known, the flags the portal scores, and what the portal holds of it. Roll-ups to
-- today's agencies and units go through dim_agency / dim_admin_unit (current_*_code), never stored here,
-- so a later reform re-maps history without touching the facts.
{%- set upstream = [ref('int_dossier_lifecycle'), ref('stg_onestop__dossiers'), ref('int_dossier_syncs_summarised')] %}
with

{% if is_incremental() %}
    touched as materialized (
        {{ touched_dossiers(upstream) }}
    ),
{% endif %}

dossiers as (

    select * from {{ ref('stg_onestop__dossiers') }}
    {% if is_incremental() %}
        where dossier_code in (select t.dossier_code from touched as t)
    {% endif %}

),

lifecycle as (

    select * from {{ ref('int_dossier_lifecycle') }}
    {% if is_incremental() %}
        where dossier_code in (select t.dossier_code from touched as t)
    {% endif %}

),

syncs as (

    select * from {{ ref('int_dossier_syncs_summarised') }}
    {% if is_incremental() %}
        where dossier_code in (select t.dossier_code from touched as t)
    {% endif %}

),

agencies as (

    select * from {{ ref('int_agencies_versioned') }}

),

procedures as (

    select * from {{ ref('int_procedures_versioned') }}

)

select
    -- keys
    d.dossier_code,
    d.province_code,
    d.dossier_id,
    ra.agency_key,
    l.receiving_agency_code,
    coalesce(l.agency_code, d.agency_code) as agency_code,
    p.procedure_key,
    d.procedure_code,
    d.admin_unit_code,
    d.applicant_key,
    d.applicant_type_code,
    d.channel_code,
    coalesce(l.status_code, d.status_code) as status_code,
    s.portal_status_code,

    -- dates (local), for dim_date
    {{ local_date('d.filed_at') }} as filed_date,
    {{ local_date('l.received_at') }} as received_date,
    {{ local_date('d.due_at') }} as due_date,
    {{ local_date('l.finished_at') }} as finished_date,

    -- times
    d.filed_at,
    l.registered_at,
    l.received_at,
    l.receipt_recorded_at,
    d.due_at,
    l.finished_at,
    l.rejected_at,
    l.withdrawal_requested_at,
    l.stopped_at,
    l.resolved_at,
    l.returned_at,
    l.first_supplement_requested_at,
    l.first_recorded_at,
    l.last_recorded_at,
    s.first_synced_at,
    s.latest_synced_at,

    -- measures
    l.working_days_taken,
    l.supplement_request_count,
    l.handover_count,
    l.status_change_count,
    coalesce(s.push_count, 0) as portal_push_count,
    d.fee_amount,

    -- the 766 verdict (null while open and not yet overdue by supplement requests)
    l.is_on_time,

    -- flags
    d.channel_code = 2 as is_online,
    p.online_service_type = 'full' as is_full_process_procedure,
    d.is_full_process_online,
    d.is_digitised,
    d.has_e_result,
    d.online_payment_channel_code is not null as is_paid_online,
    d.online_payment_channel_code,
    d.fee_amount > 0 as has_fee,
    d.field_name = 'Chứng thực' as is_certification,
    d.has_certified_e_copy,
    d.reused_digitised_data,
    d.used_data_store,
    d.used_population_data,
    d.is_vneid_verified,
    d.is_filed_by_civil_servant,
    d.apology_issued_at is not null as has_apology_letter,
    d.apology_issued_at,
    d.apology_new_due_at,
    s.first_synced_at is not null as is_synced,

    -- lineage: the newest upstream stamp this row reflects
    {{ model_stamp() }} as _build_load_id
from dossiers as d
inner join lifecycle as l on d.dossier_code = l.dossier_code
left join syncs as s on d.dossier_code = s.dossier_code
left join agencies as ra
    on
        l.receiving_agency_code = ra.agency_code
        and d.filed_at >= ra.valid_from and (ra.valid_to is null or d.filed_at < ra.valid_to)
left join procedures as p
    on
        d.province_code = p.province_code and d.procedure_code = p.procedure_code
        and d.filed_at >= p.valid_from and (p.valid_to is null or d.filed_at < p.valid_to)
