-- The provinces the warehouse holds: each province-level administrative unit (its statistics-office
-- code is the province code every row carries), named as in its current version.
select
    unit_code as province_code,
    unit_name as province_name
from {{ ref('int_admin_units_versioned') }}
where unit_level = 'province' and is_current
