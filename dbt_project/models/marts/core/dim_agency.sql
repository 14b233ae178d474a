-- Agencies (one-stop desks), SCD2: one row per version; current_agency_code is the agency in force
-- today that took over this one's dossiers (itself if it still exists).
select
    a.agency_key,
    a.province_code,
    a.agency_code,
    a.agency_name,
    a.agency_level,
    a.admin_unit_code,
    u.current_unit_code,
    a.successor_agency_code,
    a.current_agency_code,
    a.effective_from_date,
    a.effective_to_date,
    a.valid_from,
    a.valid_to,
    a.is_current,
    a.is_closed
from {{ ref('int_agencies_versioned') }} as a
left join {{ ref('int_admin_units_versioned') }} as u on a.admin_unit_code = u.unit_code and u.is_current
