-- Administrative units, SCD2 over the 2025-07-01 reform: one row per version. current_unit_code is
-- the unit in force today that took over this one's area (itself if it still exists).
select
    unit_key,
    province_code,
    unit_code,
    unit_name,
    unit_level,
    parent_unit_code,
    successor_unit_code,
    current_unit_code,
    effective_from_date,
    effective_to_date,
    valid_from,
    valid_to,
    is_current,
    is_closed
from {{ ref('int_admin_units_versioned') }}
