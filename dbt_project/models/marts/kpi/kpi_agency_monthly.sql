{{
    config(
        materialized='incremental',
        unique_key='year_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        meta={'row_scope': 'agency_code', 'upstream_models': ['fct_kpi766_dossier', 'fct_dossier', 'fct_payment', 'fct_petition']},
    )
}}
-- The Decision 766 index per agency and month: every indicator's numerator, denominator, rate and points,
-- the six groups and the total (the indicators, their points, thresholds and methods: the seed
-- kpi766_indicators, exported from include/tthc/kpi766.py). Dossier-level indicators are counts over
-- fct_kpi766_dossier (which dossiers, and what each cost); procedure-level ones count the procedures of
-- the dossiers the agency received in the month; petition-level ones the portal's petitions. A month is
-- evaluated at its end, or at the newest data while it runs. Points are null where an indicator has
-- nothing to count; proxies (method 'proxy') are shown and never scored; scored_points is what the agency
-- could score on the rest.
{%- set dossier_level = ['1.4', '2.1', '3.3', '3.4', '3.6', '4.1', '4.2', '4.3', '4.4', '4.5b', '4.6', '5.4'] %}
{%- set indicators = ['1.1', '1.2', '1.3', '1.4', '2.1', '2.2', '3.1', '3.3', '3.4', '3.5', '3.5b', '3.6', '4.1',
                      '4.2', '4.3', '4.4', '4.5a', '4.5b', '4.6', '5.2', '5.3', '5.4'] %}
{%- set groups = {'CKMB': ['1.1', '1.2', '1.3', '1.4'], 'TDGQ': ['2.1'], 'CLGQ': ['3.1', '3.3', '3.4'],
                  'TTTT': ['3.5', '3.5b', '3.6'], 'MDSH': ['4.1', '4.2', '4.3', '4.4', '4.5a', '4.5b', '4.6'],
                  'MDHL': ['5.2', '5.3', '5.4']} %}
with

as_of as (

    select coalesce(max(last_recorded_at), now()) as as_of from {{ ref('fct_dossier') }}

),

touched_months as (

    {% if is_incremental() %}
        select month_start from {{ ref('fct_kpi766_dossier') }}
        where {{ upstream_since() }}
        union
        select {{ local_month('paid_at') }} from {{ ref('fct_payment') }}
        where {{ upstream_since() }}
        union
        -- a petition counts in every month from its receipt on while open
        select generate_series({{ local_month('p.received_at') }}, {{ local_month('a.as_of') }}, interval '1 month')::date
        from {{ ref('fct_petition') }} as p, as_of as a
        where p.{{ upstream_since() }}
        union
        {{ kpi766_unfinished_months() }}
    {% else %}
        select distinct month_start from {{ ref('fct_kpi766_dossier') }}
        union
        select distinct {{ local_month('received_at') }} from {{ ref('fct_petition') }}
    {% endif %}

),

months as (

    {{ kpi766_months('select month_start from touched_months', '(select as_of from as_of)') }}

),

spec as (

    select * from {{ ref('kpi766_indicators') }}

),

dossier_counts as (

    select
        k.province_code,
        k.agency_code,
        k.month_start,
        {%- for i in dossier_level %}
            {%- set s = i | replace('.', '_') %}
            count(*) filter (where k.indicator = '{{ i }}' and k.in_numerator) as n_{{ s }},
            count(*) filter (where k.indicator = '{{ i }}' and k.in_denominator) as d_{{ s }},
        {%- endfor %}
        count(*) as dossier_rows
    from {{ ref('fct_kpi766_dossier') }} as k
    where k.month_start in (select m.month_start from months as m)
    group by 1, 2, 3

),

portal_receipts as (

    {{ kpi766_portal_receipts('months') }}

),

received as (

    -- dossiers received in the month, at the agency that received them (the procedures it handled)
    select
        m.month_start,
        m.evaluated_at,
        d.province_code,
        d.receiving_agency_code as agency_code,
        d.procedure_code,
        d.applicant_type_code,
        d.is_vneid_verified or d.used_data_store or d.used_population_data as used_population_data
    from months as m
    inner join {{ ref('fct_dossier') }} as d on m.month_begins_at <= d.received_at and m.evaluated_at > d.received_at

),

paid_procedures as (

    select distinct
        m.month_start,
        d.receiving_agency_code as agency_code,
        d.province_code,
        d.procedure_code
    from months as m
    inner join {{ ref('fct_payment') }} as pay on m.month_begins_at <= pay.paid_at and m.evaluated_at > pay.paid_at
    inner join {{ ref('fct_dossier') }} as d on pay.dossier_code = d.dossier_code

),

handled as (

    -- the procedures each agency handled in the month, in their version in force at the evaluation time
    select
        h.province_code,
        h.agency_code,
        h.month_start,
        h.procedure_code,
        h.has_citizen_dossier,
        h.used_population_data,
        p.is_published,
        p.is_synced_to_national_catalogue,
        p.has_e_workflow_published,
        p.online_service_type in ('full', 'partial') as is_online_service,
        p.has_fee,
        p.has_fee and p.has_payment_integrated as has_payment_integrated,
        p.has_fee and pp.procedure_code is not null as has_online_payment
    from (
        select
            province_code,
            agency_code,
            month_start,
            evaluated_at,
            procedure_code,
            bool_or(applicant_type_code = 1) as has_citizen_dossier,
            bool_or(applicant_type_code = 1 and used_population_data) as used_population_data
        from received
        group by 1, 2, 3, 4, 5
    ) as h
    inner join {{ ref('dim_procedure') }} as p
        on
            h.province_code = p.province_code and h.procedure_code = p.procedure_code
            and h.evaluated_at >= p.valid_from and (p.valid_to is null or h.evaluated_at < p.valid_to)
    left join paid_procedures as pp
        on
            h.agency_code = pp.agency_code and h.month_start = pp.month_start
            and h.province_code = pp.province_code and h.procedure_code = pp.procedure_code

),

procedure_counts as (

    select
        province_code,
        agency_code,
        month_start,
        count(*) filter (where is_published) as n_1_1,
        count(*) as d_1_1,
        count(*) filter (where is_synced_to_national_catalogue) as n_1_2,
        count(*) as d_1_2,
        count(*) filter (where has_e_workflow_published) as n_1_3,
        count(*) as d_1_3,
        count(*) filter (where is_online_service) as n_3_1,
        count(*) as d_3_1,
        count(*) filter (where has_payment_integrated) as n_3_5,
        count(*) filter (where has_fee) as d_3_5,
        count(*) filter (where has_online_payment) as n_3_5b,
        count(*) filter (where has_fee) as d_3_5b,
        count(*) filter (where used_population_data) as n_4_5a,
        count(*) filter (where has_citizen_dossier) as d_4_5a
    from handled
    group by 1, 2, 3

),

resolution_times as (

    -- 2.2: dossiers received in the month and resolved by its evaluation time, at the agency handling them
    select
        m.month_start,
        d.province_code,
        d.agency_code,
        sum(d.working_days_taken) as n_2_2,
        count(*) as d_2_2
    from months as m
    inner join {{ ref('fct_dossier') }} as d
        on
            m.month_begins_at <= d.received_at and m.evaluated_at > d.received_at
            and coalesce(d.resolved_at, d.returned_at) < m.evaluated_at
    group by 1, 2, 3

),

petitions as (

    -- 5.2: petitions received before the evaluation time and not answered before the month: on time when
    -- answered, or still open, by their due time. 5.3: petitions received in the month, less those rated
    -- dissatisfied or overdue.
    select
        m.month_start,
        p.province_code,
        p.agency_code,
        count(*) filter (
            where coalesce(case when p.answered_at < m.evaluated_at then p.answered_at end, m.evaluated_at)
            <= p.due_at
        ) as n_5_2,
        count(*) as d_5_2,
        count(*) filter (
            where p.received_at >= m.month_begins_at
            and not (
                (p.answered_at < m.evaluated_at and p.satisfaction_level is not null and not p.is_satisfied)
                or coalesce(case when p.answered_at < m.evaluated_at then p.answered_at end, m.evaluated_at)
                > p.due_at
            )
        ) as n_5_3,
        count(*) filter (where p.received_at >= m.month_begins_at) as d_5_3
    from months as m
    inner join {{ ref('fct_petition') }} as p
        on
            m.evaluated_at > p.received_at
            and (p.answered_at is null or m.month_begins_at <= p.answered_at)
    group by 1, 2, 3

),

counts as (

    select
        k.province_code,
        k.agency_code,
        k.month_start,
        {%- for i in dossier_level %}
            {%- set s = i | replace('.', '_') %}
            coalesce(dc.n_{{ s }}, 0) as n_{{ s }},
            coalesce(dc.d_{{ s }}, 0) as d_{{ s }},
        {%- endfor %}
        {%- for s in ['1_1', '1_2', '1_3', '3_1', '3_5', '3_5b', '4_5a'] %}
            coalesce(pc.n_{{ s }}, 0) as n_{{ s }},
            coalesce(pc.d_{{ s }}, 0) as d_{{ s }},
        {%- endfor %}
        coalesce(rt.n_2_2, 0) as n_2_2,
        coalesce(rt.d_2_2, 0) as d_2_2,
        coalesce(pt.n_5_2, 0) as n_5_2,
        coalesce(pt.d_5_2, 0) as d_5_2,
        coalesce(pt.n_5_3, 0) as n_5_3,
        coalesce(pt.d_5_3, 0) as d_5_3,
        pr.seen as portal_receipts
    from (
        select
            province_code,
            agency_code,
            month_start
        from dossier_counts
        union
        select
            province_code,
            agency_code,
            month_start
        from procedure_counts
        union
        select
            province_code,
            agency_code,
            month_start
        from petitions
    ) as k
    left join dossier_counts as dc on k.agency_code = dc.agency_code and k.month_start = dc.month_start
    left join procedure_counts as pc on k.agency_code = pc.agency_code and k.month_start = pc.month_start
    left join resolution_times as rt on k.agency_code = rt.agency_code and k.month_start = rt.month_start
    left join petitions as pt on k.agency_code = pt.agency_code and k.month_start = pt.month_start
    left join portal_receipts as pr on k.agency_code = pr.agency_code and k.month_start = pr.month_start

),

rates as (

    select
        c.*,
        {%- for i in indicators %}
            {%- set s = i | replace('.', '_') %}
            {%- if i == '2.2' %}
                case when d_2_2 > 0 then round(n_2_2::numeric / d_2_2, 2) end as rate_2_2,
            {%- else %}
                round({{ kpi766_rate("'" ~ i ~ "'", 'n_' ~ s, 'd_' ~ s, 'portal_receipts', 'n_1_4', 'd_1_4', 'n_2_1',
                                     'd_2_1') }}, 6) as rate_{{ s }},
            {%- endif %}
        {%- endfor %}
        0 as _
    from counts as c

),

scored as (

    select
        r.*,
        {%- for i in indicators if i != '2.2' %}
            {%- set s = i | replace('.', '_') %}
            (
                select {{ kpi766_points('sp.points', 'sp.threshold', 'r.rate_' ~ s) }}
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
    s.province_code,
    s.agency_code,
    to_char(s.month_start, 'YYYY-MM') as year_month,
    s.month_start,
    {%- for i in indicators %}
        {%- set c = i | replace('.', '_') %}
        {%- if i == '2.2' %}
            s.n_2_2::numeric as ind_2_2_numerator,
            s.d_2_2::int as ind_2_2_denominator,
            s.rate_2_2 as ind_2_2_rate,
            null::numeric as ind_2_2_points,
        {%- else %}
            s.n_{{ c }}::int as ind_{{ c }}_numerator,
            s.d_{{ c }}::int as ind_{{ c }}_denominator,
            s.rate_{{ c }} as ind_{{ c }}_rate,
            s.points_{{ c }} as ind_{{ c }}_points,
        {%- endif %}
    {%- endfor %}
    {%- for g, members in groups.items() %}
        (
            select coalesce(sum(v.points), 0)
            from (values {% for i in members %}('{{ i }}', s.points_{{ i | replace('.', '_') }}){% if not loop.last %}, {% endif %}{% endfor %}) as v (code, points)
            inner join spec as sp on v.code = sp.indicator_code
            where sp.is_in_total
        ) as {{ g | lower }}_points,
    {%- endfor %}
    (
        select coalesce(sum(v.points), 0)
        from (values {% for i in indicators if i != '2.2' %}('{{ i }}', s.points_{{ i | replace('.', '_') }}){% if not loop.last %}, {% endif %}{% endfor %}) as v (code, points)
        inner join spec as sp on v.code = sp.indicator_code
        where sp.is_in_total
    ) as total_points,
    (
        select coalesce(sum(sp.points), 0)
        from (values {% for i in indicators if i != '2.2' %}('{{ i }}', s.points_{{ i | replace('.', '_') }}){% if not loop.last %}, {% endif %}{% endfor %}) as v (code, points)
        inner join spec as sp on v.code = sp.indicator_code
        where sp.is_in_total and v.points is not null
    ) as scored_points,
    s.portal_receipts,
    s.evaluated_at,
    s.month_end,
    {{ model_stamp() }} as _build_load_id
from scored as s
