-- SCD2 of the administrative units from the version log, with where each unit's area belongs today:
-- current_unit_code follows a closed unit to the unit that took it over (a 2024 commune -> its merged
-- 2025 commune), so dossiers roll up to today's units and the province totals agree either way.
with recursive

versions as (

    select * from {{ ref('stg_onestop__admin_units') }}

),

windowed as (

    select
        *,
        lead(recorded_at) over (partition by unit_code order by recorded_at) as next_recorded_at,
        row_number() over (partition by unit_code order by recorded_at desc) = 1 as is_latest
    from versions

),

latest as (

    select
        unit_code,
        successor_unit_code,
        effective_to_date is not null as is_closed
    from windowed
    where is_latest

),

successor_chain as (

    select
        unit_code,
        unit_code as current_unit_code,
        0 as hops
    from latest
    where not is_closed

    union all

    select
        l.unit_code,
        c.current_unit_code,
        c.hops + 1 as hops
    from latest as l
    inner join successor_chain as c on l.successor_unit_code = c.unit_code
    where l.is_closed and c.hops < 10

)

select
    {{ surrogate_key(['w.unit_code', 'w.recorded_at']) }} as unit_key,
    w.province_code,
    w.unit_code,
    w.unit_name,
    w.unit_level,
    w.parent_unit_code,
    w.successor_unit_code,
    w.merged_unit_codes,
    coalesce(s.current_unit_code, w.unit_code) as current_unit_code,
    w.effective_from_date,
    w.effective_to_date,
    w.recorded_at as valid_from,
    w.next_recorded_at as valid_to,
    w.next_recorded_at is null as is_current,
    w.effective_to_date is not null as is_closed
from windowed as w
left join successor_chain as s on w.unit_code = s.unit_code
