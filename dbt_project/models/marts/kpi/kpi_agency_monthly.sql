{{
    config(
        materialized='incremental',
        unique_key='year_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}
-- The Decision 766 index per agency and month: every indicator's numerator, denominator, rate and
-- points, the six groups and the total (points and thresholds: the seed kpi766_indicators, exported
-- from include/tthc/kpi766.py). A month is evaluated at its end, or at the newest data (as_of) while
-- it runs; a dossier still open then counts that moment as its finish (766). Points are null where an
-- indicator has nothing to count; scored_points is what the agency could score on the rest. Receipts
-- count at the agency that received them; finishes, results and overdue dossiers at the agency handling
-- them (after the 2025 reform's hand-over, the successor).
{%- set indicators = ['1.1', '1.2', '1.3', '1.4', '2.1', '3.1', '3.2', '3.3', '3.4', '4.1', '4.2', '4.3', '4.4',
                      '4.5', '4.6', '4.7', '5.1', '5.2', '5.3'] %}
{%- set group_of = {'1': 'CKMB', '2': 'TDGQ', '5': 'MDHL', '4': 'MDSH'} %}
{%- set groups = ['CKMB', 'TDGQ', 'CLGQ', 'TTTT', 'MDSH', 'MDHL'] %}
with

as_of as (

    select coalesce(max(last_recorded_at), now()) as as_of from {{ ref('fct_dossier') }}

),

touched_months as (

    {% if is_incremental() %}
    select {{ local_month('m') }} as month_start
    from {{ ref('fct_dossier') }} d,
        lateral (values (d.filed_at), (d.received_at), (d.finished_at), (d.resolved_at), (d.due_at)) as t (m)
    where d._build_load_id > {{ build_since() }} and m is not null
    union
    select {{ local_month('paid_at') }} from {{ ref('fct_payment') }} where _build_load_id > {{ build_since() }}
    union
    select {{ local_month('rated_at') }} from {{ ref('fct_rating') }} where _build_load_id > {{ build_since() }}
    union
    select {{ local_month('m') }}
    from {{ ref('fct_petition') }} p, lateral (values (p.answered_at), (p.due_at)) as t (m)
    where p._build_load_id > {{ build_since() }} and m is not null
    union
    -- months not yet final: evaluated before their end, and the data has moved on since
    select month_start from {{ this }}, as_of where evaluated_at < least(month_end, as_of.as_of)
    union
    select {{ local_month('as_of') }} from as_of
    {% else %}
    select distinct {{ local_month('m') }} as month_start
    from {{ ref('fct_dossier') }} d,
        lateral (values (d.filed_at), (d.received_at), (d.finished_at), (d.resolved_at), (d.due_at)) as t (m)
    where m is not null
    {% endif %}

),

months as (

    select
        month_start,
        (month_start::timestamp at time zone 'Asia/Ho_Chi_Minh') as month_begins_at,
        ((month_start + interval '1 month')::timestamp at time zone 'Asia/Ho_Chi_Minh') as month_end,
        least(((month_start + interval '1 month')::timestamp at time zone 'Asia/Ho_Chi_Minh'), as_of.as_of)
            as evaluated_at
    from touched_months, as_of
    where month_start <= {{ local_month('as_of.as_of') }}

),

dossiers as (

    select * from {{ ref('fct_dossier') }}

),

received as (

    -- dossiers received in the month (the base of most indicators), counted at the agency that received
    -- them; finishing, resolving and overdue dossiers count at the agency handling them (agency_code)
    select m.month_start, m.evaluated_at, d.receiving_agency_code as kpi_agency_code, d.*
    from months m
    join dossiers d on d.received_at >= m.month_begins_at and d.received_at < m.evaluated_at

),

received_counts as (

    select
        kpi_agency_code as agency_code,
        month_start,
        count(*) as received,
        count(*) filter (where first_synced_at < evaluated_at) as synced,
        count(*) filter (where is_full_process_procedure) as full_process_eligible,
        count(*) filter (where is_full_process_procedure and is_full_process_online) as full_process_online,
        count(*) filter (where has_fee) as fee_bearing,
        count(*) filter (where has_fee and is_paid_online) as paid_online,
        count(*) filter (where is_digitised) as digitised,
        count(*) filter (where is_certification) as certification,
        count(*) filter (where is_certification and has_certified_e_copy) as certified_e_copies,
        count(*) filter (where reused_digitised_data) as reused,
        count(*) filter (where used_data_store) as from_data_store,
        count(*) filter (where applicant_type_code = 1) as citizen,
        count(*) filter (where applicant_type_code = 1 and used_population_data) as population_used,
        count(*) filter (where is_online) as online,
        count(*) filter (where is_online and is_vneid_verified) as vneid_verified
    from received
    group by 1, 2

),

paid_procedures as (

    select distinct m.month_start, d.receiving_agency_code as agency_code, d.procedure_code
    from months m
    join {{ ref('fct_payment') }} pay on pay.paid_at >= m.month_begins_at and pay.paid_at < m.evaluated_at
    join dossiers d on d.dossier_code = pay.dossier_code

),

procedure_counts as (

    -- procedures the agency handled in the month, in their version in force at the evaluation time
    select
        h.agency_code,
        h.month_start,
        count(*) as handled,
        count(*) filter (where p.is_published) as published,
        count(*) filter (where p.is_synced_to_national_catalogue) as synced_to_catalogue,
        count(*) filter (where p.has_e_workflow_published) as e_workflow_published,
        count(*) filter (where p.has_fee) as fee_procedures,
        count(*) filter (where p.has_fee and p.has_payment_integrated) as payment_integrated,
        count(*) filter (where p.has_fee and pp.procedure_code is not null) as with_online_payment
    from (select distinct kpi_agency_code as agency_code, month_start, evaluated_at, procedure_code from received) h
    join {{ ref('dim_procedure') }} p
        on p.procedure_code = h.procedure_code
        and p.valid_from <= h.evaluated_at and (p.valid_to is null or p.valid_to > h.evaluated_at)
    left join paid_procedures pp
        on pp.agency_code = h.agency_code and pp.month_start = h.month_start and pp.procedure_code = h.procedure_code
    group by 1, 2

),

progress as (

    -- 2.1: dossiers finished in the month, and those open at its evaluation time past their due time
    -- (or overdue by a second supplement request); the open ones count that time as their finish
    select month_start, agency_code, count(*) filter (where counts_on_time) as on_time, count(*) as counted
    from (
        select m.month_start, d.agency_code, d.is_on_time as counts_on_time
        from months m
        join dossiers d on d.finished_at >= m.month_begins_at and d.finished_at < m.evaluated_at
        union all
        select m.month_start, d.agency_code, false
        from months m
        join dossiers d
            on d.finished_at is null and coalesce(d.received_at, d.rejected_at) < m.evaluated_at
            and (d.due_at < m.evaluated_at or d.supplement_request_count > 1)
        union all
        select m.month_start, d.agency_code, false
        from months m
        join dossiers d
            on d.finished_at >= m.evaluated_at and coalesce(d.received_at, d.rejected_at) < m.evaluated_at
            and d.due_at < m.evaluated_at
    ) counted
    group by 1, 2

),

resolved as (

    select m.month_start, d.agency_code, count(*) as resolved, count(*) filter (where d.has_e_result) as e_results
    from months m
    join dossiers d on d.resolved_at >= m.month_begins_at and d.resolved_at < m.evaluated_at
    group by 1, 2

),

portal_receipts as (

    -- dossiers the portal knows as received in the month: synced receipts (not a hand-over repeating
    -- status 2), at the receiving agency (the other side of 1.4)
    select m.month_start, s.agency_code, count(distinct s.dossier_code) as seen
    from months m
    join {{ ref('fct_portal_sync') }} s
        on s.status_code = 2 and not s.is_handover
        and s.changed_at >= m.month_begins_at and s.changed_at < m.evaluated_at
        and s.first_synced_at < m.evaluated_at
    group by 1, 2

),

ratings as (

    select m.month_start, d.agency_code, count(*) as rated, count(*) filter (where r.is_negative) as negative
    from months m
    join {{ ref('fct_rating') }} r on r.rated_at >= m.month_begins_at and r.rated_at < m.evaluated_at
    join dossiers d on d.dossier_code = r.dossier_code
    group by 1, 2

),

petitions as (

    -- 6.2: answered in the month, or open at its evaluation time past due; 6.3: answered and rated
    select m.month_start, p.agency_code,
        count(*) filter (where p.answered_at >= m.month_begins_at and p.answered_at < m.evaluated_at
                         and p.answered_at <= p.due_at) as answered_on_time,
        count(*) as due_or_answered,
        count(*) filter (where p.answered_at >= m.month_begins_at and p.answered_at < m.evaluated_at
                         and p.satisfaction_level is not null) as rated,
        count(*) filter (where p.answered_at >= m.month_begins_at and p.answered_at < m.evaluated_at
                         and p.is_satisfied) as satisfied
    from months m
    join {{ ref('fct_petition') }} p
        on (p.answered_at >= m.month_begins_at and p.answered_at < m.evaluated_at)
        or ((p.answered_at is null or p.answered_at >= m.evaluated_at) and p.due_at < m.evaluated_at
            and p.received_at < m.evaluated_at)
    group by 1, 2

),

counts as (

    -- every (agency, month) with activity, and each indicator's numerator (n_) and denominator (d_)
    select
        k.agency_code,
        k.month_start,
        coalesce(pc.published, 0) as n_1_1, coalesce(pc.handled, 0) as d_1_1,
        coalesce(pc.synced_to_catalogue, 0) as n_1_2, coalesce(pc.handled, 0) as d_1_2,
        coalesce(pc.e_workflow_published, 0) as n_1_3, coalesce(pc.handled, 0) as d_1_3,
        coalesce(rc.synced, 0) as n_1_4, greatest(coalesce(rc.received, 0), coalesce(pr.seen, 0)) as d_1_4,
        coalesce(pg.on_time, 0) as n_2_1, coalesce(pg.counted, 0) as d_2_1,
        coalesce(rc.full_process_online, 0) as n_3_1, coalesce(rc.full_process_eligible, 0) as d_3_1,
        coalesce(pc.payment_integrated, 0) as n_3_2, coalesce(pc.fee_procedures, 0) as d_3_2,
        coalesce(pc.with_online_payment, 0) as n_3_3, coalesce(pc.fee_procedures, 0) as d_3_3,
        coalesce(rc.paid_online, 0) as n_3_4, coalesce(rc.fee_bearing, 0) as d_3_4,
        coalesce(rs.e_results, 0) as n_4_1, coalesce(rs.resolved, 0) as d_4_1,
        coalesce(rc.digitised, 0) as n_4_2, coalesce(rc.received, 0) as d_4_2,
        coalesce(rc.certified_e_copies, 0) as n_4_3, coalesce(rc.certification, 0) as d_4_3,
        coalesce(rc.reused, 0) as n_4_4, coalesce(rc.received, 0) as d_4_4,
        coalesce(rc.from_data_store, 0) as n_4_5, coalesce(rc.received, 0) as d_4_5,
        coalesce(rc.population_used, 0) as n_4_6, coalesce(rc.citizen, 0) as d_4_6,
        coalesce(rc.vneid_verified, 0) as n_4_7, coalesce(rc.online, 0) as d_4_7,
        coalesce(rt.negative, 0) as negative_ratings, coalesce(rt.rated, 0) as ratings,
        coalesce(pt.answered_on_time, 0) as n_5_2, coalesce(pt.due_or_answered, 0) as d_5_2,
        coalesce(pt.satisfied, 0) as n_5_3, coalesce(pt.rated, 0) as d_5_3
    from (
        select agency_code, month_start from received_counts
        union select agency_code, month_start from progress
        union select agency_code, month_start from resolved
        union select agency_code, month_start from petitions
        union select agency_code, month_start from ratings
    ) k
    left join received_counts rc on rc.agency_code = k.agency_code and rc.month_start = k.month_start
    left join procedure_counts pc on pc.agency_code = k.agency_code and pc.month_start = k.month_start
    left join portal_receipts pr on pr.agency_code = k.agency_code and pr.month_start = k.month_start
    left join progress pg on pg.agency_code = k.agency_code and pg.month_start = k.month_start
    left join resolved rs on rs.agency_code = k.agency_code and rs.month_start = k.month_start
    left join ratings rt on rt.agency_code = k.agency_code and rt.month_start = k.month_start
    left join petitions pt on pt.agency_code = k.agency_code and pt.month_start = k.month_start

),

spec as (

    select * from {{ ref('kpi766_indicators') }}

),

rates as (

    select
        c.*,
        {%- for i in indicators if i != '5.1' %}
        {%- set s = i | replace('.', '_') %}
        case when d_{{ s }} > 0 then round(n_{{ s }}::numeric / d_{{ s }}, 6) end as rate_{{ s }},
        {%- endfor %}
        case when d_2_1 > 0 then round(greatest(0, 1 - ((d_2_1 - n_2_1)::numeric / d_2_1
            + case when ratings > 0 then negative_ratings::numeric / ratings else 0 end)), 6) end as rate_5_1
    from counts c

),

scored as (

    select
        r.*,
        {%- for i in indicators %}
        {%- set s = i | replace('.', '_') %}
        (select round(sp.points * least(1, r.rate_{{ s }} / coalesce(sp.threshold, 1)), 4)
         from spec sp where sp.indicator_code = '{{ i }}') as points_{{ s }},
        {%- endfor %}
        m.evaluated_at,
        m.month_end
    from rates r
    join months m on m.month_start = r.month_start

)

select
    agency_code,
    to_char(month_start, 'YYYY-MM') as year_month,
    month_start,
    {%- for i in indicators %}
    {%- set s = i | replace('.', '_') %}
    {%- if i == '5.1' %}
    negative_ratings as ind_5_1_negative_ratings,
    ratings as ind_5_1_ratings,
    {%- else %}
    n_{{ s }}::int as ind_{{ s }}_numerator,
    d_{{ s }}::int as ind_{{ s }}_denominator,
    {%- endif %}
    rate_{{ s }} as ind_{{ s }}_rate,
    points_{{ s }} as ind_{{ s }}_points,
    {%- endfor %}
    {%- for g in groups %}
    {%- set members = [] %}
    {%- for i in indicators if (group_of.get(i[0]) or ('CLGQ' if i == '3.1' else 'TTTT')) == g %}
    {%- do members.append(i | replace('.', '_')) %}
    {%- endfor %}
    {% for s in members %}coalesce(points_{{ s }}, 0){% if not loop.last %} + {% endif %}{% endfor %} as {{ g | lower }}_points,
    {%- endfor %}
    {% for i in indicators %}coalesce(points_{{ i | replace('.', '_') }}, 0){% if not loop.last %} + {% endif %}{% endfor %}
        as total_points,
    (select sum(sp.points) from spec sp where
        {%- for i in indicators %}
        {%- set s = i | replace('.', '_') %}
        (sp.indicator_code = '{{ i }}' and points_{{ s }} is not null){% if not loop.last %} or {% endif %}
        {%- endfor %}) as scored_points,
    evaluated_at,
    month_end,
    (select coalesce(max(_build_load_id), 0) from {{ ref('fct_dossier') }}) as _build_load_id
from scored
