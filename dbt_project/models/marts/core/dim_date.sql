-- The working-day calendar (exported from include/tthc/calendar.py as the seed working_calendar).
with

calendar as (

    select * from {{ ref('working_calendar') }}

)

select
    calendar_date as date_day,
    extract(year from calendar_date)::int as year_number,
    extract(month from calendar_date)::int as month_number,
    to_char(calendar_date, 'YYYY-MM') as year_month,
    extract(isodow from calendar_date)::int as iso_weekday,
    (array['Thứ Hai', 'Thứ Ba', 'Thứ Tư', 'Thứ Năm', 'Thứ Sáu', 'Thứ Bảy', 'Chủ nhật'])[extract(isodow from calendar_date)::int] as weekday_name_vi,
    trim(to_char(calendar_date, 'Day')) as weekday_name_en,
    extract(isodow from calendar_date) >= 6 as is_weekend,
    is_working_day,
    coalesce(holiday_name_vi, '') <> '' as is_public_holiday,
    nullif(holiday_name_vi, '') as holiday_name_vi,
    nullif(holiday_name_en, '') as holiday_name_en,
    working_days_before as working_day_index
from calendar
