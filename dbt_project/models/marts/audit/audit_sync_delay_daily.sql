{{
    config(
        materialized='incremental',
        unique_key=['agency_code', 'recorded_date'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        meta={'row_scope': 'agency_code', 'upstream_models': ['fct_portal_sync']},
        indexes=[{'columns': ['agency_code', 'recorded_date'], 'unique': True}, {'columns': ['recorded_date']}],
    )
}}
-- Per agency and day (of the one-stop's record of the change): how fast its status changes reached the
-- national portal. Bands are exclusive: within 15 min, within 1 h (15-60 min), within 24 h, later, never
-- (not synced as of the build). Delays run from the one-stop's record to the portal's NgayDongBo.
with

{% if is_incremental() %}
    touched as materialized (
        select distinct
            agency_code,
            recorded_date
        from {{ ref('fct_portal_sync') }}
        where {{ upstream_since() }}
    ),
{% endif %}

changes as (

    select s.* from {{ ref('fct_portal_sync') }} as s
    {% if is_incremental() %}
        inner join touched as t on s.agency_code = t.agency_code and s.recorded_date = t.recorded_date
    {% endif %}

)

select
    province_code,
    agency_code,
    recorded_date,
    count(*)::integer as status_change_count,
    (count(*) filter (where sync_delay_band = 'within 15 min'))::integer as synced_within_15_min_count,
    (count(*) filter (where sync_delay_band = 'within 1 h'))::integer as synced_within_1_h_count,
    (count(*) filter (where sync_delay_band = 'within 24 h'))::integer as synced_within_24_h_count,
    (count(*) filter (where sync_delay_band = 'later'))::integer as synced_later_count,
    (count(*) filter (where sync_delay_band = 'never'))::integer as never_synced_count,
    round((count(*) filter (where is_synced))::numeric / count(*), 4) as synced_rate,
    round((percentile_cont(0.5) within group (order by sync_delay_seconds) / 60.0)::numeric, 1)
        as median_delay_minutes,
    round((percentile_cont(0.95) within group (order by sync_delay_seconds) / 60.0)::numeric, 1)
        as p95_delay_minutes,
    {{ model_stamp() }} as _build_load_id
from changes
group by province_code, agency_code, recorded_date
