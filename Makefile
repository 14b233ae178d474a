# Two entry points (see README): `make demo` and `make test`. Each works alone on a fresh machine
# with Python 3.11 and make: it creates .venv, installs the pinned stack, then runs.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export SCARF_ANALYTICS := false
export DO_NOT_TRACK := 1

.PHONY: demo test check lint install airflow bench clean compose-tool browser-tool

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tthc demo $(ARGS)

# docker-compose (Debian's v1) validates docker-compose.yml offline; a test runs it.
compose-tool:
	@command -v docker-compose >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose) >/dev/null 2>&1 \
	      || echo "note: could not install docker-compose; the compose test will fail"; \
	  else echo "note: docker-compose missing (apt-get install docker-compose)"; fi; }

# Debian's Chromium for the report's browser test (Playwright drives it; no browser download).
browser-tool:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium || (apt-get update -qq && \
	     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)) >/dev/null 2>&1 \
	      || echo "note: could not install chromium; the report's browser test will fail"; \
	  else echo "note: chromium missing (apt-get install chromium)"; fi; }

lint: $(STAMP)
	$(BIN)/ruff check include dags tests
	cd dbt_project && ../$(BIN)/sqlfluff lint --disable-progress-bar --processes 0 models macros tests

# Two pytest sessions side by side (pytest-xdist), a test file at a time in each: each session has its own
# embedded server, TTHC_HOME, dbt target and GX results (tests/conftest.py). The files start in the order
# conftest.py collects them, the longest first (xdist would otherwise start the files with most tests first).
TEST_WORKERS ?= 2
test: $(STAMP) compose-tool browser-tool lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The edit loop: the linters, then every test not marked slow, stopping at the first failure.
check: $(STAMP) lint
	$(BIN)/python -m pytest -x -q -m "not slow" $(PYTEST_ARGS)

airflow: $(STAMP)
	$(BIN)/tthc airflow

bench: $(STAMP)
	$(BIN)/tthc bench --json out/bench.json

clean:
	-$(BIN)/tthc warehouse down
	rm -rf .tthc out
