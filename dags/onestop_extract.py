"""Hourly: the one-stop system's changes recorded in the run's data interval -> raw_onestop."""

from airflow.sdk import Asset, CronDataIntervalTimetable, chain, dag, task
from tthc import dag_support as ds
from tthc.pipeline import extract_entity

SOURCE = "onestop"


@dag(schedule=CronDataIntervalTimetable(ds.HOURLY, timezone=ds.TIMEZONE), start_date=ds.START_DATE, catchup=False, max_active_runs=1, default_args=ds.DEFAULT_ARGS,
     tags=["tthc", "extract", SOURCE], doc_md=__doc__)
def onestop_extract():
    tasks = []
    for entity, uri in ((e, ds.asset_uris(SOURCE)[e]) for e in ds.reference_first(SOURCE)):
        @task(task_id=f"load_{entity}", outlets=[Asset(uri)])
        def load(data_interval_start=None, data_interval_end=None, entity=entity):
            stats = extract_entity(ds.warehouse_dsn(), ds.endpoint(SOURCE), entity, data_interval_start,
                                   data_interval_end)
            return stats.as_dict()

        tasks.append(load())
    chain(*tasks)


onestop_extract()
