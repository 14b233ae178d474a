"""On new raw data: dbt builds staging -> intermediate -> marts (Cosmos: a task per model, tests after each),
then announces the marts Asset."""

from airflow.sdk import Asset, AssetAny, dag, task
from tthc import dag_support as ds
from tthc import dbt_cosmos


@dag(schedule=AssetAny(*(Asset(uri) for uri in dbt_cosmos.raw_asset_uris())), start_date=ds.START_DATE,
     catchup=False, is_paused_upon_creation=False, max_active_runs=1, default_args=ds.DEFAULT_ARGS,
     tags=["tthc", "transform", "dbt"], doc_md=__doc__)
def warehouse_build():
    @task
    def open_build_window():
        return ds.open_build_window()

    @task(outlets=[Asset(dbt_cosmos.MARTS_URI)])
    def marts_built(*, outlet_events=None):
        outlet_events[Asset(dbt_cosmos.MARTS_URI)].extra = ds.build_extra()  # the checks' as_of
        return ds.marts_counts()

    open_build_window() >> dbt_cosmos.dbt_task_group() >> marts_built()


warehouse_build()
