"""Hourly: the one-stop system's changes recorded in the run's data interval -> raw_onestop."""

from airflow.sdk import dag
from tthc import dag_support as ds


@dag(schedule=ds.hourly(), start_date=ds.START_DATE, end_date=ds.END_DATE, catchup=False, max_active_runs=1,
     default_args=ds.DEFAULT_ARGS, tags=["tthc", "extract", "onestop"], doc_md=__doc__)
def onestop_extract():
    ds.entity_load_tasks("onestop")


onestop_extract()
