-- SCD2 from the version log: a version is valid from when it was recorded until the next one was.
-- A closed agency names its successor; current_agency_code follows successors to the agency in force.
with recursive

versions as (

    select * from {{ ref('stg_onestop__agencies') }}

),

windowed as (

    select
        *,
        lead(recorded_at) over (partition by agency_code order by recorded_at) as next_recorded_at,
        row_number() over (partition by agency_code order by recorded_at desc) = 1 as is_latest
    from versions

),

latest as (

    select
        agency_code,
        successor_agency_code,
        effective_to_date is not null as is_closed
    from windowed
    where is_latest

),

successor_chain as (

    -- each agency, and where its successors lead (closed agencies hand over; chains are short)
    select
        agency_code,
        agency_code as current_agency_code,
        0 as hops
    from latest
    where not is_closed

    union all

    select
        l.agency_code,
        c.current_agency_code,
        c.hops + 1 as hops
    from latest as l
    inner join successor_chain as c on l.successor_agency_code = c.agency_code
    where l.is_closed and c.hops < 10

)

select
    {{ surrogate_key(['w.agency_code', 'w.recorded_at']) }} as agency_key,
    w.province_code,
    w.agency_code,
    w.agency_name,
    w.agency_level,
    w.admin_unit_code,
    w.effective_from_date,
    w.effective_to_date,
    w.successor_agency_code,
    coalesce(s.current_agency_code, w.agency_code) as current_agency_code,
    w.recorded_at as valid_from,
    w.next_recorded_at as valid_to,
    w.next_recorded_at is null as is_current,
    w.effective_to_date is not null as is_closed
from windowed as w
left join successor_chain as s on w.agency_code = s.agency_code
