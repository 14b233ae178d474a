{{
    config(
        materialized='incremental',
        unique_key='applicant_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        meta={'upstream_models': ['fct_dossier', 'stg_population__verifications']},
    )
}}
-- Applicants, pseudonymous: the key is an HMAC of the ID number (key TTHC_PII_KEY). No name, no ID,
-- no phone: only what the ID encodes at a coarse grain (gender, birth decade, province of birth
-- registration), the unit of the first dossier, and the population database's latest verdict.
{%- set upstream = [ref('fct_dossier'), ref('stg_population__verifications')] %}
with

{% if is_incremental() %}
    touched as materialized (
        select applicant_key from {{ ref('fct_dossier') }}
        where {{ upstream_since() }}
        union
        select applicant_key from {{ ref('stg_population__verifications') }}
        where {{ upstream_since() }}
    ),
{% endif %}

dossiers as (

    select * from {{ ref('fct_dossier') }}
    {% if is_incremental() %}
        where applicant_key in (select t.applicant_key from touched as t)
    {% endif %}

),

per_applicant as (

    select
        applicant_key,
        min(applicant_type_code) as applicant_type_code,
        count(*) as dossier_count,
        min(filed_at) as first_filed_at,
        max(filed_at) as last_filed_at,
        (array_agg(dossier_code order by filed_at, dossier_code))[1] as first_dossier_code,
        (array_agg(admin_unit_code order by filed_at, dossier_code))[1] as first_unit_code
    from dossiers
    group by applicant_key

),

attributes as (

    select distinct on (applicant_key)
        applicant_key,
        applicant_gender,
        applicant_birth_decade,
        applicant_birth_province_code,
        has_legacy_id_card
    from {{ ref('stg_onestop__dossiers') }}
    {% if is_incremental() %}
        where dossier_code in (select pa.first_dossier_code from per_applicant as pa)
    {% endif %}
    order by applicant_key, dossier_code

),

verifications as (

    -- the latest answer, whichever province's batch asked (an applicant is one person nationwide)
    select distinct on (applicant_key) *
    from {{ ref('stg_population__verifications') }}
    {% if is_incremental() %}
        where applicant_key in (select t.applicant_key from touched as t)
    {% endif %}
    order by applicant_key asc, verified_at desc, province_code asc

)

select
    a.applicant_key,
    a.applicant_type_code,
    case a.applicant_type_code
        when 1 then 'citizen' when 2 then 'enterprise' when 3 then 'state agency'
        else 'other organisation'
    end as applicant_type_name,
    t.applicant_gender as gender,
    t.applicant_birth_decade as birth_decade,
    t.applicant_birth_province_code as birth_province_code,
    coalesce(t.has_legacy_id_card, false) as has_legacy_id_card,
    a.first_unit_code,
    a.dossier_count,
    a.first_filed_at,
    a.last_filed_at,
    v.verification_result,
    v.mismatched_fields,
    v.verified_at,
    {{ model_stamp() }} as _build_load_id
from per_applicant as a
left join attributes as t on a.applicant_key = t.applicant_key
left join verifications as v on a.applicant_key = v.applicant_key
