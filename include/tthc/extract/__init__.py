"""HTTP clients of the three source systems (no Airflow here)."""
