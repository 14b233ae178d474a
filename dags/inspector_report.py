"""Daily: the inspectors' audit report (HTML + CSV, from the marts) for the day that ended."""

from airflow.sdk import dag, task
from tthc import dag_support as ds


@dag(schedule=ds.daily(), start_date=ds.START_DATE, end_date=ds.END_DATE, catchup=False, max_active_runs=1,
     default_args=ds.DEFAULT_ARGS, tags=["tthc", "report", "inspectors"], doc_md=__doc__)
def inspector_report():
    @task
    def report(*, data_interval_start=None):
        return ds.inspector_report(data_interval_start)

    report()


inspector_report()
