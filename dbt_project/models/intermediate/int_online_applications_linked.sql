-- One row per portal application: when it was filed, and when (if ever) a version carrying the
-- one-stop's dossier code arrived, i.e. when the one-stop handled it.
select
    application_code,
    min(filed_at) as filed_at,
    min(recorded_at) as first_recorded_at,
    min(recorded_at) filter (where dossier_code is not null) as linked_at,
    min(dossier_code) as dossier_code,
    min(agency_code) as agency_code,
    min(procedure_code) as procedure_code,
    min(applicant_key) as applicant_key
from {{ ref('stg_portal__online_applications') }}
group by application_code
