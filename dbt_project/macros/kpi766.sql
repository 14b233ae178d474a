{#- Decision 766 scoring (include/tthc/kpi766.py, `Indicator.score`): full points at the threshold, linearly
    below it; without a threshold, points x rate. Null when there is nothing to count. -#}
{% macro kpi766_points(points, threshold, rate) -%}
    {#- (least() ignores a null: the case keeps "nothing to count" null, not full points) #}
    case when {{ rate }} is not null then round({{ points }} * least(1, {{ rate }} / coalesce({{ threshold }}, 1)), 4) end
{%- endmacro %}

{#- The months the index evaluates: each local month's start, its begin and its evaluation time (its end,
    or the newest data while it runs). `month_starts`: a query returning month_start dates. -#}
{% macro kpi766_months(month_starts, as_of) -%}
    select
        month_start,
        (month_start::timestamp at time zone 'Asia/Ho_Chi_Minh') as month_begins_at,
        ((month_start + interval '1 month')::timestamp at time zone 'Asia/Ho_Chi_Minh') as month_end,
        least(((month_start + interval '1 month')::timestamp at time zone 'Asia/Ho_Chi_Minh'), {{ as_of }})
            as evaluated_at
    from ({{ month_starts }}) as touched (month_start)
    where month_start <= {{ local_month(as_of) }}
{%- endmacro %}

{#- The receipts the portal holds per agency and month (1.4's other count): synced receipts that are not a
    hand-over, received and first synced before the month's evaluation time. -#}
{% macro kpi766_portal_receipts(months) -%}
    select
        m.month_start,
        s.agency_code,
        count(distinct s.dossier_code) as seen
    from {{ months }} as m
    inner join {{ ref('fct_portal_sync') }} as s
        on
            s.status_code = 2 and not s.is_handover
            and m.month_begins_at <= s.changed_at and m.evaluated_at > s.changed_at
            and m.evaluated_at > s.first_synced_at
    group by 1, 2
{%- endmacro %}

{#- A dossier-level indicator's rate from its counts (numerator n, denominator d): 1.4 over the larger of the
    one-stop's receipts and the portal's (seen); 3.3 times 1.4's rate; 5.4 = 1 - (2.1's overdue rate +
    the negative-rating rate); the rest n / d. -#}
{% macro kpi766_rate(indicator, n, d, seen, n_1_4, d_1_4, n_2_1, d_2_1) -%}
    case {{ indicator }}
        when '1.4' then {{ n }}::numeric / nullif(greatest({{ d }}, coalesce({{ seen }}, 0)), 0)
        when '3.3' then {{ n }}::numeric / nullif({{ d }}, 0)
            * ({{ n_1_4 }}::numeric / nullif(greatest({{ d_1_4 }}, coalesce({{ seen }}, 0)), 0))
        when '5.4' then case when {{ d }} > 0 and {{ d_2_1 }} > 0 then greatest(0, 1 - (
            ({{ d_2_1 }} - {{ n_2_1 }})::numeric / {{ d_2_1 }} + ({{ d }} - {{ n }})::numeric / {{ d }})) end
        else {{ n }}::numeric / nullif({{ d }}, 0)
    end
{%- endmacro %}

{#- An incremental 766 model's months to evaluate again: those evaluated before their end while the data has
    moved on since, and the month of the newest data. Needs the CTE as_of (as_of). -#}
{% macro kpi766_unfinished_months() -%}
    select t.month_start from {{ this }} as t, as_of as a
    where t.evaluated_at < least(t.month_end, a.as_of)
    union
    select {{ local_month('as_of') }} from as_of
{%- endmacro %}
