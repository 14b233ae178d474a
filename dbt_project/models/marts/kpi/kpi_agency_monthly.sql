{{
    config(
        materialized='incremental',
        unique_key='year_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        meta={'row_scope': 'agency_code', 'upstream_models': ['fct_dossier', 'fct_payment', 'fct_rating', 'fct_petition', 'fct_portal_sync']},
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
        from {{ ref('fct_dossier') }} as d,
            lateral (values (d.filed_at), (d.received_at), (d.finished_at), (d.resolved_at), (d.due_at)) as t (m)
        where d.{{ upstream_since() }} and m is not null
        union
        select {{ local_month('paid_at') }} from {{ ref('fct_payment') }}
        where {{ upstream_since() }}
        union
        select {{ local_month('rated_at') }} from {{ ref('fct_rating') }}
        where {{ upstream_since() }}
        union
        select {{ local_month('m') }}
        from {{ ref('fct_petition') }} as p, lateral (values (p.answered_at), (p.due_at)) as t (m)
        where p.{{ upstream_since() }} and m is not null
        union
        -- months not yet final: evaluated before their end, and the data has moved on since
        select month_start from {{ this }}, as_of
        where evaluated_at < least(month_end, as_of.as_of)
        union
        select {{ local_month('as_of') }} from as_of
    {% else %}
        select distinct {{ local_month('m') }} as month_start
        from {{ ref('fct_dossier') }} as d,
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
    select
        m.month_start,
        m.evaluated_at,
        d.receiving_agency_code as kpi_agency_code,
        d.*
    from months as m
    inner join dossiers as d on m.month_begins_at <= d.received_at and m.evaluated_at > d.received_at

),

received_counts as (

    select
        province_code,
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
    group by 1, 2, 3

),

paid_procedures as (

    select distinct
        m.month_start,
        d.receiving_agency_code as agency_code,
        d.province_code,
        d.procedure_code
    from months as m
    inner join {{ ref('fct_payment') }} as pay on m.month_begins_at <= pay.paid_at and m.evaluated_at > pay.paid_at
    inner join dossiers as d on pay.dossier_code = d.dossier_code

),

procedure_counts as (

    -- procedures the agency handled in the month, in their version in force at the evaluation time
    select
        h.province_code,
        h.agency_code,
        h.month_start,
        count(*) as handled,
        count(*) filter (where p.is_published) as published,
        count(*) filter (where p.is_synced_to_national_catalogue) as synced_to_catalogue,
        count(*) filter (where p.has_e_workflow_published) as e_workflow_published,
        count(*) filter (where p.has_fee) as fee_procedures,
        count(*) filter (where p.has_fee and p.has_payment_integrated) as payment_integrated,
        count(*) filter (where p.has_fee and pp.procedure_code is not null) as with_online_payment
    from (select distinct
        province_code,
        kpi_agency_code as agency_code,
        month_start,
        evaluated_at,
        procedure_code
    from received) as h
    inner join {{ ref('dim_procedure') }} as p
        on
            h.province_code = p.province_code and h.procedure_code = p.procedure_code
            and h.evaluated_at >= p.valid_from and (p.valid_to is null or h.evaluated_at < p.valid_to)
    left join paid_procedures as pp
        on
            h.agency_code = pp.agency_code and h.month_start = pp.month_start
            and h.province_code = pp.province_code and h.procedure_code = pp.procedure_code
    group by 1, 2, 3

),

progress as (

    -- 2.1: dossiers finished in the month, and those open at its evaluation time past their due time
    -- (or overdue by a second supplement request); the open ones count that time as their finish
    select
        month_start,
        province_code,
        agency_code,
        count(*) filter (where counts_on_time) as on_time,
        count(*) as counted
    from (
        select
            m.month_start,
            d.province_code,
            d.agency_code,
            d.is_on_time as counts_on_time
        from months as m
        inner join dossiers as d on m.month_begins_at <= d.finished_at and m.evaluated_at > d.finished_at
        union all
        select
            m.month_start,
            d.province_code,
            d.agency_code,
            false as counts_on_time
        from months as m
        inner join dossiers as d
            on
                d.finished_at is null and coalesce(d.received_at, d.rejected_at) < m.evaluated_at
                and (m.evaluated_at > d.due_at or d.supplement_request_count > 1)
        union all
        select
            m.month_start,
            d.province_code,
            d.agency_code,
            false as counts_on_time
        from months as m
        inner join dossiers as d
            on
                m.evaluated_at <= d.finished_at and coalesce(d.received_at, d.rejected_at) < m.evaluated_at
                and m.evaluated_at > d.due_at
    ) as counted
    group by 1, 2, 3

),

resolved as (

    select
        m.month_start,
        d.province_code,
        d.agency_code,
        count(*) as resolved,
        count(*) filter (where d.has_e_result) as e_results
    from months as m
    inner join dossiers as d on m.month_begins_at <= d.resolved_at and m.evaluated_at > d.resolved_at
    group by 1, 2, 3

),

portal_receipts as (

    -- dossiers the portal knows as received in the month: synced receipts (not a hand-over repeating
    -- status 2), at the receiving agency (the other side of 1.4)
    select
        m.month_start,
        s.province_code,
        s.agency_code,
        count(distinct s.dossier_code) as seen
    from months as m
    inner join {{ ref('fct_portal_sync') }} as s
        on
            s.status_code = 2 and not s.is_handover
            and m.month_begins_at <= s.changed_at and m.evaluated_at > s.changed_at
            and m.evaluated_at > s.first_synced_at
    group by 1, 2, 3

),

ratings as (

    select
        m.month_start,
        d.province_code,
        d.agency_code,
        count(*) as rated,
        count(*) filter (where r.is_negative) as negative
    from months as m
    inner join {{ ref('fct_rating') }} as r on m.month_begins_at <= r.rated_at and m.evaluated_at > r.rated_at
    inner join dossiers as d on r.dossier_code = d.dossier_code
    group by 1, 2, 3

),

petitions as (

    -- 6.2: answered in the month, or open at its evaluation time past due; 6.3: answered and rated
    select
        m.month_start,
        p.province_code,
        p.agency_code,
        count(
            *) filter (
            where p.answered_at >= m.month_begins_at and p.answered_at < m.evaluated_at
            and p.answered_at <= p.due_at
        ) as answered_on_time,
        count(*) as due_or_answered,
        count(
            *) filter (
            where p.answered_at >= m.month_begins_at and p.answered_at < m.evaluated_at
            and p.satisfaction_level is not null
        ) as rated,
        count(
            *) filter (
            where p.answered_at >= m.month_begins_at and p.answered_at < m.evaluated_at
            and p.is_satisfied
        ) as satisfied
    from months as m
    inner join {{ ref('fct_petition') }} as p
        on
            (m.month_begins_at <= p.answered_at and m.evaluated_at > p.answered_at)
            or (
                (p.answered_at is null or m.evaluated_at <= p.answered_at) and m.evaluated_at > p.due_at
                and m.evaluated_at > p.received_at
            )
    group by 1, 2, 3

),

counts as (

    -- every (agency, month) with activity, and each indicator's numerator (n_) and denominator (d_)
    select
        k.province_code,
        k.agency_code,
        k.month_start,
        coalesce(pc.published, 0) as n_1_1,
        coalesce(pc.handled, 0) as d_1_1,
        coalesce(pc.synced_to_catalogue, 0) as n_1_2,
        coalesce(pc.handled, 0) as d_1_2,
        coalesce(pc.e_workflow_published, 0) as n_1_3,
        coalesce(pc.handled, 0) as d_1_3,
        coalesce(rc.synced, 0) as n_1_4,
        greatest(coalesce(rc.received, 0), coalesce(pr.seen, 0)) as d_1_4,
        coalesce(pg.on_time, 0) as n_2_1,
        coalesce(pg.counted, 0) as d_2_1,
        coalesce(rc.full_process_online, 0) as n_3_1,
        coalesce(rc.full_process_eligible, 0) as d_3_1,
        coalesce(pc.payment_integrated, 0) as n_3_2,
        coalesce(pc.fee_procedures, 0) as d_3_2,
        coalesce(pc.with_online_payment, 0) as n_3_3,
        coalesce(pc.fee_procedures, 0) as d_3_3,
        coalesce(rc.paid_online, 0) as n_3_4,
        coalesce(rc.fee_bearing, 0) as d_3_4,
        coalesce(rs.e_results, 0) as n_4_1,
        coalesce(rs.resolved, 0) as d_4_1,
        coalesce(rc.digitised, 0) as n_4_2,
        coalesce(rc.received, 0) as d_4_2,
        coalesce(rc.certified_e_copies, 0) as n_4_3,
        coalesce(rc.certification, 0) as d_4_3,
        coalesce(rc.reused, 0) as n_4_4,
        coalesce(rc.received, 0) as d_4_4,
        coalesce(rc.from_data_store, 0) as n_4_5,
        coalesce(rc.received, 0) as d_4_5,
        coalesce(rc.population_used, 0) as n_4_6,
        coalesce(rc.citizen, 0) as d_4_6,
        coalesce(rc.vneid_verified, 0) as n_4_7,
        coalesce(rc.online, 0) as d_4_7,
        coalesce(rt.negative, 0) as negative_ratings,
        coalesce(rt.rated, 0) as ratings,
        coalesce(pt.answered_on_time, 0) as n_5_2,
        coalesce(pt.due_or_answered, 0) as d_5_2,
        coalesce(pt.satisfied, 0) as n_5_3,
        coalesce(pt.rated, 0) as d_5_3
    from (
        select
            province_code,
            agency_code,
            month_start
        from received_counts
        union
        select
            province_code,
            agency_code,
            month_start
        from progress
        union
        select
            province_code,
            agency_code,
            month_start
        from resolved
        union
        select
            province_code,
            agency_code,
            month_start
        from petitions
        union
        select
            province_code,
            agency_code,
            month_start
        from ratings
    ) as k
    left join received_counts as rc on k.agency_code = rc.agency_code and k.month_start = rc.month_start
    left join procedure_counts as pc on k.agency_code = pc.agency_code and k.month_start = pc.month_start
    left join portal_receipts as pr on k.agency_code = pr.agency_code and k.month_start = pr.month_start
    left join progress as pg on k.agency_code = pg.agency_code and k.month_start = pg.month_start
    left join resolved as rs on k.agency_code = rs.agency_code and k.month_start = rs.month_start
    left join ratings as rt on k.agency_code = rt.agency_code and k.month_start = rt.month_start
    left join petitions as pt on k.agency_code = pt.agency_code and k.month_start = pt.month_start

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
        case when d_2_1 > 0 then round(greatest(0, 1 - (
            (d_2_1 - n_2_1)::numeric / d_2_1
            + case when ratings > 0 then negative_ratings::numeric / ratings else 0 end
        )), 6) end as rate_5_1
    from counts as c

),

scored as (

    select
        r.*,
        {%- for i in indicators %}
            {%- set s = i | replace('.', '_') %}
            (
                select round(sp.points * least(1, r.rate_{{ s }} / coalesce(sp.threshold, 1)), 4)
                from spec as sp
                where sp.indicator_code = '{{ i }}'
            ) as points_{{ s }},
        {%- endfor %}
        m.evaluated_at,
        m.month_end
    from rates as r
    inner join months as m on r.month_start = m.month_start

)

select
    province_code,
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
    (
        select sum(sp.points)
        from spec as sp
        where sp.indicator_code = any(array[
            {%- for i in indicators %}
                case
                    when points_{{ i | replace('.', '_') }} is not null then '{{ i }}'
                end{% if not loop.last %},{% endif %}
            {%- endfor %}
        ])
    ) as scored_points,
    evaluated_at,
    month_end,
    {{ model_stamp() }} as _build_load_id
from scored
