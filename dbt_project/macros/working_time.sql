{#-
  Office time of the province's calendar, as include/tthc/calendar.py defines it. The seed working_calendar
  carries, per day, whether it is a working day, the working days and office seconds before it, and on
  working days its opening, lunch and closing seconds (Nghe An's seasonal hours): the hours are read from
  it, never typed here. office_seconds(ts) = office seconds from the calendar's first day to ts, to the
  whole second (tthc.calendar.office_us // 10**6, the same formula as audit.office_seconds); constant
  outside office hours. Differences of it are office time.
-#}

{#- Office seconds of the working day c (a row of the seed) elapsed at ts: 0 before opening, frozen over lunch
    and after closing. -#}
{% macro _office_seconds_in_day(ts) -%}
    case when not c.is_working_day then 0
         else least(greatest(floor(extract(epoch from (({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::time))::bigint
                             - c.opens_second, 0), c.lunch_starts_second - c.opens_second)
              + least(greatest(floor(extract(epoch from (({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::time))::bigint
                               - c.lunch_ends_second, 0), c.closes_second - c.lunch_ends_second)
    end
{%- endmacro %}

{% macro office_seconds(ts) -%}
    (select c.office_seconds_before + {{ _office_seconds_in_day(ts) }}
     from {{ ref('working_calendar') }} c
     where c.calendar_date = (({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::date)
{%- endmacro %}

{#- Office time in working days from the calendar's first day to ts: the working days before ts's day plus the
    share of that day's office time elapsed at ts. -#}
{% macro office_days(ts) -%}
    (select c.working_days_before
            + case when not c.is_working_day then 0
                   else {{ _office_seconds_in_day(ts) }}::numeric
                        / (c.lunch_starts_second - c.opens_second + c.closes_second - c.lunch_ends_second)
              end
     from {{ ref('working_calendar') }} c
     where c.calendar_date = (({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::date)
{%- endmacro %}

{#- Working days (office time / the office day) between two moments, to 2 decimals; 0 when the second is
    not later. -#}
{% macro working_days_between(start_ts, end_ts) -%}
    round(greatest({{ office_days(end_ts) }} - {{ office_days(start_ts) }}, 0), 2)
{%- endmacro %}
