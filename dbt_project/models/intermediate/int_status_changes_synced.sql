-- Each one-stop status change matched to its portal sync (by MaQuaTrinh): the first push, when the
-- portal applied it, how many pushes there were, and the delay from the one-stop's record to the
-- portal's reported sync time.
with

changes as (

    select * from {{ ref('stg_onestop__status_changes') }}

),

pushes as (

    select
        dossier_code,
        status_change_id,
        min(synced_at) as first_synced_at,
        (array_agg(applied_at order by synced_at, sync_id))[1] as first_applied_at,
        count(*) as push_count
    from {{ ref('stg_portal__sync_records') }}
    group by dossier_code, status_change_id

)

select
    c.status_change_id,
    c.dossier_code,
    c.dossier_id,
    c.agency_code,
    c.status_code,
    c.is_handover,
    c.changed_at,
    c.recorded_at,
    p.first_synced_at,
    p.first_applied_at,
    coalesce(p.push_count, 0) as push_count,
    extract(epoch from p.first_synced_at - c.recorded_at)::bigint as sync_delay_seconds,
    c._load_id
from changes as c
left join pushes as p on c.dossier_code = p.dossier_code and c.status_change_id = p.status_change_id
