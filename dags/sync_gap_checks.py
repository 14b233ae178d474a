"""On new marts: the gap checks G1-G8 as of how far the build's data reaches (GX checkpoint + the
recorder into audit.sync_gap). Fails only when a source is stale (G8); logs the open gaps otherwise."""

from airflow.sdk import Asset, dag, task
from tthc import dag_support as ds
from tthc import dbt_cosmos


@dag(schedule=[Asset(dbt_cosmos.MARTS_URI)], start_date=ds.START_DATE, catchup=False,
     is_paused_upon_creation=False, max_active_runs=1,
     default_args={**ds.DEFAULT_ARGS, "retries": 1}, tags=["tthc", "checks", "gx"], doc_md=__doc__)
def sync_gap_checks():
    @task
    def check(*, triggering_asset_events=None, dag_run=None):
        as_of = ds.check_as_of(triggering_asset_events, dag_run.conf if dag_run else None)
        return ds.run_checks(as_of, dag_run.run_id if dag_run else None)

    check()


sync_gap_checks()
