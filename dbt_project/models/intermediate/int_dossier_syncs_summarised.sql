-- Per dossier, what the portal holds of it: first and latest sync, how many pushes, and the status
-- its latest push carries (by reported sync time, MaQuaTrinh breaking ties).
with

pushes as (

    select
        *,
        row_number() over (partition by dossier_code order by synced_at desc, status_change_id desc) as recency
    from {{ ref('stg_portal__sync_records') }}

)

select
    dossier_code,
    min(synced_at) as first_synced_at,
    max(synced_at) as latest_synced_at,
    count(*) as push_count,
    min(status_code) filter (where recency = 1) as portal_status_code
from pushes
group by dossier_code
