{#-
  Office time of the province's calendar, as include/tthc/calendar.py defines it (07:30-11:30 and
  13:30-17:00 on working days; the seed working_calendar carries each day's working-day index):
  office_us(ts) = office microseconds from the calendar's first day to ts, constant outside office
  hours. Differences of it are office time; / (450 * 60e6) they are working days.
-#}
{% macro office_seconds(ts) -%}
    (select c.working_days_before * 27000
            + case when not c.is_working_day then 0
                   else least(greatest(extract(epoch from (({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::time) - 27000, 0), 14400)
                        + least(greatest(extract(epoch from (({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::time) - 48600, 0), 12600)
              end
     from {{ ref('working_calendar') }} c
     where c.calendar_date = (({{ ts }}) at time zone 'Asia/Ho_Chi_Minh')::date)
{%- endmacro %}

{#- Working days (office time / 7.5 h) between two moments; 0 when the second is not later. -#}
{% macro working_days_between(start_ts, end_ts) -%}
    round(greatest({{ office_seconds(end_ts) }} - {{ office_seconds(start_ts) }}, 0) / 27000.0, 2)
{%- endmacro %}
