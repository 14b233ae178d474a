"""On new one-stop dossiers: verify the applicants' IDs not verified yet -> raw_population (one mapped
task per province)."""

from airflow.sdk import Asset, dag, task
from tthc import dag_support as ds
from tthc.pipeline import verify_population


@dag(schedule=[Asset(ds.asset_uris("onestop")["dossiers"])], start_date=ds.START_DATE, catchup=False,
     is_paused_upon_creation=False, max_active_runs=1, default_args=ds.DEFAULT_ARGS, tags=["tthc", "extract", "population"], doc_md=__doc__)
def population_verify():
    @task(outlets=[Asset(ds.asset_uris("population")["verifications"])], map_index_template="{{ province }}")
    def verify(province: str):
        ds.name_map_index(province)
        return verify_population(ds.warehouse_dsn(), ds.endpoint("population", province)).as_dict()

    verify.expand(province=ds.province_list())


population_verify()
