-- An agency's record names its province (MaTinh): the province whose one-stop served the record.
select
    province_code,
    agency_code,
    agency_province_code,
    recorded_at
from {{ ref('stg_onestop__agencies') }}
where agency_province_code <> province_code
