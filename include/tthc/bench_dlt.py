"""The dlt peer of `tthc bench`: the same records into the same server with dlt 1.x (``postgres``
destination, ``write_disposition="merge"`` on the record key), run by the benchmark in its own virtualenv
(dlt's pins are not Airflow's). Standard library and dlt only: no tthc import.

    python bench_dlt.py SPEC.json  ->  prints one JSON line of timings

SPEC: {"store": path of the sqlite store, "dsn": ..., "entities": [{"name", "key", "windows": [[lo, hi], ...]}],
       "mode": "defaults" | "best", "dataset": schema name, "pipelines_dir": ...}

- ``defaults``: what a data engineer gets: one ``pipeline.run`` per daily window and entity, dlt's default
  file format for PostgreSQL (insert_values);
- ``best``: its fastest settings: ``loader_file_format="csv"`` (COPY), one run for all windows.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time


def records(store: str, entity: str, key: str, lo: int, hi: int):
    """The window's records, less those dlt cannot take at all (it has no quarantine: one of them fails the
    whole load; the loader quarantines them): no key (a merge on it fails), a NUL character or a lone
    surrogate (neither can be PostgreSQL text)."""
    with sqlite3.connect(store) as db:
        cur = db.execute(f"SELECT payload FROM {entity} WHERE changed_us >= ? AND changed_us < ? "
                         "ORDER BY changed_us, seq", (lo, hi))
        for (payload,) in cur:
            if "\\u0000" in payload:
                continue
            record = json.loads(payload)
            try:
                json.dumps(record, ensure_ascii=False).encode()
            except UnicodeEncodeError:
                continue
            if isinstance(record, dict) and record.get(key):
                yield record


def main(spec_path: str) -> int:
    import dlt

    spec = json.loads(open(spec_path).read())
    pipeline = dlt.pipeline(pipeline_name=f"tthc_bench_{spec['mode']}", destination=dlt.destinations.postgres(
        credentials=spec["dsn"]), dataset_name=spec["dataset"], pipelines_dir=spec["pipelines_dir"])
    out = {"mode": spec["mode"], "dlt": dlt.__version__, "entities": {}}
    for e in spec["entities"]:  # records decoded before the clock starts, as for the loader
        rows = runs = 0
        seconds = 0.0
        windows = [list(records(spec["store"], e["name"], e["key"], lo, hi)) for lo, hi in e["windows"]]
        if spec["mode"] == "best":
            windows = [[r for batch in windows for r in batch]]
        for batch in filter(None, windows):
            t0 = time.perf_counter()
            pipeline.run(batch, table_name=e["name"], write_disposition="merge", primary_key=e["key"],
                         **({"loader_file_format": "csv"} if spec["mode"] == "best" else {}))
            seconds += time.perf_counter() - t0
            rows += len(batch)
            runs += 1
        out["entities"][e["name"]] = {"rows": rows, "runs": runs, "seconds": round(seconds, 3)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
