"""Loading source records into the raw schemas (no Airflow here)."""
