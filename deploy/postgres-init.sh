#!/bin/sh
# First start of the compose postgres: the warehouse database and Airflow's metadata database.
set -e
psql -v ON_ERROR_STOP=1 -U postgres <<SQL
CREATE DATABASE ${TTHC_WAREHOUSE_DB:-tthc};
CREATE ROLE airflow LOGIN PASSWORD '${AIRFLOW_DB_PASSWORD}';
CREATE DATABASE airflow OWNER airflow;
SQL
