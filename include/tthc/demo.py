"""`tthc demo`: the whole pipeline built so far, end to end, on the embedded default."""

from __future__ import annotations

import json
import time

from tthc import config as config_mod
from tthc.bootstrap import bootstrap, describe
from tthc.warehouse import redact


def run_demo(args) -> int:
    settings = config_mod.load()
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    dsn = bootstrap(settings)
    timings["warehouse"] = round(time.monotonic() - t0, 2)
    info = describe(dsn)
    print(f"warehouse: PostgreSQL {info['server_version']} at {dsn}")
    for schema, n in info["schemas"].items():
        print(f"  schema {schema:16} {n} tables")
    print(f"  roles: {', '.join(info['roles'])}")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "seed": args.seed, "days": args.days, "province": settings.province,
        "warehouse_dsn_redacted": redact(dsn), "rows": {}, "quarantined": {}, "timings_s": timings,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out / 'summary.json'}")
    return 0
