"""Hourly: what the national public service portal recorded in the data interval -> raw_portal."""

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task
from tthc import dag_support as ds
from tthc.pipeline import extract_entity

SOURCE = "portal"


@dag(schedule=CronDataIntervalTimetable(ds.HOURLY, timezone=ds.TIMEZONE), start_date=ds.START_DATE, catchup=False, max_active_runs=1, default_args=ds.DEFAULT_ARGS,
     tags=["tthc", "extract", SOURCE], doc_md=__doc__)
def portal_extract():
    for entity, uri in ds.asset_uris(SOURCE).items():
        @task(task_id=f"load_{entity}", outlets=[Asset(uri)])
        def load(data_interval_start=None, data_interval_end=None, entity=entity):
            stats = extract_entity(ds.warehouse_dsn(), ds.endpoint(SOURCE), entity, data_interval_start,
                                   data_interval_end)
            return stats.as_dict()

        load()


portal_extract()
