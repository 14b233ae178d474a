{{
    config(
        materialized='incremental',
        unique_key='month_start',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        meta={'row_scope': 'agency_code', 'upstream_models': ['fct_dossier', 'fct_portal_sync', 'fct_rating']},
        indexes=[
            {'columns': ['month_start', 'agency_code', 'indicator']},
            {'columns': ['dossier_code']},
            {'columns': ['_build_load_id']},
        ],
    )
}}
-- Which dossiers the Decision 766 index counted, per month and dossier-level indicator, and what each cost
-- its agency (include/tthc/kpi766.py holds the same rules in Python; a test holds the two equal):
-- * 2.1 progress: the dossiers received before the month's evaluation time and not ended before its start,
--   at the agency handling them; the end time from what had happened by then (kpi766.progress): resolution
--   less the citizen's supplement time; unresolved: one pending supplement request ends it, a second makes
--   it overdue; else the stop; else the evaluation time. On time iff end <= due. A dossier refused at
--   intake is shown in its refusal month outside the denominator.
-- * 5.4: 2.1's dossiers; the numerator has no negative rating by the evaluation time.
-- * 4.1: dossiers resolved in the month, at the agency handling them.
-- * The rest: dossiers received in the month, at the agency that received them.
-- points_lost: what the agency lost on the indicator (points - points earned), shared equally by its
-- dossiers outside the numerator (5.4: late or rated negatively; 1.4 and 3.3: not synced, not filed
-- online), so an agency's lost points are the sum of its rows; above a threshold nothing is lost.
with

as_of as (

    select coalesce(max(last_recorded_at), now()) as as_of from {{ ref('fct_dossier') }}

),

touched_months as (

    {% if is_incremental() %}
        -- a dossier counts in every month from its receipt on while open: its months up to now
        select generate_series(
            {{ local_month('coalesce(d.received_at, d.rejected_at, d.filed_at)') }},
            {{ local_month('a.as_of') }}, interval '1 month'
        )::date as month_start
        from {{ ref('fct_dossier') }} as d, as_of as a
        where d.{{ upstream_since() }}
        union
        select generate_series({{ local_month('r.rated_at') }}, {{ local_month('a.as_of') }}, interval '1 month')::date
        from {{ ref('fct_rating') }} as r, as_of as a
        where r.{{ upstream_since() }}
        union
        select {{ local_month('changed_at') }} from {{ ref('fct_portal_sync') }}
        where {{ upstream_since() }}
        union
        -- months not yet final: evaluated before their end, and the data has moved on since
        select t.month_start from {{ this }} as t, as_of as a
        where t.evaluated_at < least(t.month_end, a.as_of)
        union
        select {{ local_month('as_of') }} from as_of
    {% else %}
        select generate_series(
            (select min({{ local_month('coalesce(received_at, rejected_at, filed_at)') }}) from {{ ref('fct_dossier') }}),
            (select {{ local_month('as_of') }} from as_of), interval '1 month'
        )::date as month_start
    {% endif %}

),

months as (

    {{ kpi766_months('select month_start from touched_months', '(select as_of from as_of)') }}

),

dossiers as (

    select
        d.*,
        l.resolution_at,
        l.resolution_kind,
        l.supplement_pause,
        l.second_supplement_requested_at,
        l.halted_at,
        l.halt_kind,
        l.ended_at,
        l.refused_at_intake_at
    from {{ ref('fct_dossier') }} as d
    inner join {{ ref('int_dossier_lifecycle') }} as l on d.dossier_code = l.dossier_code
    where
        coalesce(l.ended_at, 'infinity') >= (select min(m.month_begins_at) from months as m)
        or d.received_at >= (select min(m.month_begins_at) from months as m)
        or l.refused_at_intake_at >= (select min(m.month_begins_at) from months as m)

),

progress as (

    -- 2.1: each month's verdict from what had happened by its evaluation time
    select
        m.month_start,
        m.month_end,
        m.evaluated_at,
        d.province_code,
        d.agency_code,
        d.dossier_code,
        d.procedure_code,
        d.due_at,
        case
            when d.resolution_at < m.evaluated_at then d.resolution_at - d.supplement_pause
            when d.second_supplement_requested_at < m.evaluated_at then null
            when d.first_supplement_requested_at < m.evaluated_at then d.first_supplement_requested_at
            when d.halted_at < m.evaluated_at then d.halted_at
            else m.evaluated_at
        end as end_at,
        case
            when d.resolution_at < m.evaluated_at then d.resolution_kind
            when d.second_supplement_requested_at < m.evaluated_at then 'second_supplement_request'
            when d.first_supplement_requested_at < m.evaluated_at then 'supplement_requested'
            when d.halted_at < m.evaluated_at then d.halt_kind
            else 'open'
        end as end_kind,
        exists (
            select 1 from {{ ref('fct_rating') }} as r
            where r.dossier_code = d.dossier_code and r.is_negative and r.rated_at < m.evaluated_at
        ) as is_rated_negative
    from months as m
    inner join dossiers as d
        on
            d.received_at < m.evaluated_at
            and (d.ended_at is null or d.ended_at >= m.month_begins_at)

),

rows_ as (

    select
        month_start,
        month_end,
        evaluated_at,
        province_code,
        agency_code,
        dossier_code,
        procedure_code,
        '2.1' as indicator,
        true as in_denominator,
        coalesce(end_at <= due_at, false) as in_numerator,
        end_at,
        end_kind,
        due_at,
        not coalesce(end_at <= due_at, false) as is_short
    from progress
    union all
    select
        month_start,
        month_end,
        evaluated_at,
        province_code,
        agency_code,
        dossier_code,
        procedure_code,
        '5.4',
        true,
        not is_rated_negative,
        end_at,
        end_kind,
        due_at,
        is_rated_negative or not coalesce(end_at <= due_at, false)
    from progress
    union all
    -- refused at intake: never received, so outside 2.1's denominator
    select
        m.month_start,
        m.month_end,
        m.evaluated_at,
        d.province_code,
        d.agency_code,
        d.dossier_code,
        d.procedure_code,
        '2.1',
        false,
        false,
        null::timestamptz,
        'refused_at_intake',
        d.due_at,
        false
    from months as m
    inner join dossiers as d
        on d.refused_at_intake_at >= m.month_begins_at and d.refused_at_intake_at < m.evaluated_at
    union all
    select
        m.month_start,
        m.month_end,
        m.evaluated_at,
        d.province_code,
        d.agency_code,
        d.dossier_code,
        d.procedure_code,
        '4.1',
        true,
        d.has_e_result,
        null::timestamptz,
        null,
        d.due_at,
        not d.has_e_result
    from months as m
    inner join dossiers as d on d.resolved_at >= m.month_begins_at and d.resolved_at < m.evaluated_at
    union all
    -- received in the month, at the agency that received them
    select
        m.month_start,
        m.month_end,
        m.evaluated_at,
        d.province_code,
        d.receiving_agency_code,
        d.dossier_code,
        d.procedure_code,
        v.indicator,
        true,
        v.met,
        null::timestamptz,
        null,
        d.due_at,
        not v.met or (v.indicator = '3.3' and not coalesce(d.first_synced_at < m.evaluated_at, false))
    from months as m
    inner join dossiers as d on d.received_at >= m.month_begins_at and d.received_at < m.evaluated_at
    cross join lateral (
        values
        ('1.4', true, coalesce(d.first_synced_at < m.evaluated_at, false)),
        ('3.3', true, d.is_online),
        ('3.4', d.is_full_process_procedure, d.is_full_process_online),
        ('3.6', d.has_fee, d.is_paid_online),
        ('4.2', true, d.is_digitised),
        ('4.3', true, d.reused_digitised_data),
        ('4.4', true, d.used_data_store),
        ('4.5b', true, d.is_vneid_verified or d.used_data_store or d.used_population_data),
        ('4.6', d.is_certification, d.has_certified_e_copy)
    ) as v (indicator, counts, met)
    where v.counts

),

portal_receipts as (

    {{ kpi766_portal_receipts('months') }}

),

tallies as (

    select
        month_start,
        agency_code,
        indicator,
        count(*) filter (where in_denominator) as denominator,
        count(*) filter (where in_numerator) as numerator,
        count(*) filter (where is_short and in_denominator) as short
    from rows_
    group by 1, 2, 3

),

rates as (

    select
        t.*,
        {{ kpi766_rate('t.indicator', 't.numerator', 't.denominator', 'pr.seen', 's.numerator', 's.denominator',
                       'p.numerator', 'p.denominator') }} as rate
    from tallies as t
    left join portal_receipts as pr on t.month_start = pr.month_start and t.agency_code = pr.agency_code
    left join tallies as s on t.month_start = s.month_start and t.agency_code = s.agency_code and s.indicator = '1.4'
    left join tallies as p on t.month_start = p.month_start and t.agency_code = p.agency_code and p.indicator = '2.1'

),

shares as (

    select
        r.month_start,
        r.agency_code,
        r.indicator,
        (sp.points - {{ kpi766_points('sp.points', 'sp.threshold', 'r.rate') }}) / nullif(r.short, 0) as share,
        sp.shortfall
    from rates as r
    inner join {{ ref('kpi766_indicators') }} as sp on r.indicator = sp.indicator_code

)

select
    r.province_code,
    r.agency_code,
    to_char(r.month_start, 'YYYY-MM') as year_month,
    r.month_start,
    r.dossier_code,
    r.procedure_code,
    r.indicator,
    r.in_denominator,
    r.in_numerator,
    r.end_at,
    r.end_kind,
    r.due_at,
    case
        when r.indicator = '2.1' and r.in_denominator and not r.in_numerator and r.end_at is not null
            then {{ working_days_between('r.due_at', 'r.end_at') }}
    end as working_days_late,
    case when r.is_short and r.in_denominator then round(coalesce(s.share, 0), 6) else 0 end as points_lost,
    case
        when r.in_denominator and not r.in_numerator then s.shortfall
        when r.is_short and r.in_denominator and r.indicator = '5.4' then 'late'
        when r.is_short and r.in_denominator and r.indicator = '3.3' then 'not synced to the portal by the month''s end'
    end as shortfall,
    r.evaluated_at,
    r.month_end,
    {{ model_stamp() }} as _build_load_id
from rows_ as r
left join shares as s on r.month_start = s.month_start and r.agency_code = s.agency_code and r.indicator = s.indicator
