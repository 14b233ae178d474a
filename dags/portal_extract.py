"""Hourly: what the national public service portal recorded in the data interval -> raw_portal."""

from airflow.sdk import dag
from tthc import dag_support as ds


@dag(schedule=ds.hourly(), start_date=ds.START_DATE, end_date=ds.END_DATE, catchup=False, max_active_runs=1,
     default_args=ds.DEFAULT_ARGS, tags=["tthc", "extract", "portal"], doc_md=__doc__)
def portal_extract():
    ds.entity_load_tasks("portal")


portal_extract()
