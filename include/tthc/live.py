"""The extract DAGs' hourly work without Airflow, against the simulated sources, as a live deployment
meets them: at each whole hour the sources' clock moves to that hour, then each feed source's entities
run as the DAG's chained tasks do (``tthc.pipeline.load_hour``: the hour that ended, then the catch-up
of what the entity owes); the first failure stops the source's chain for that hour, as an upstream
failure does in Airflow, and the next hour owes it. What the loads were served, and when, is what the
freshness rule G8 replays. The tests and the benchmark use this where a `dag.test()` per hour would only
add Airflow's bookkeeping; the demo and the reliability suite run the DAGs themselves.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tthc.pipeline import Endpoint, chain_order, load_hour, verify_population

log = logging.getLogger("tthc.live")
FEEDS = ("onestop", "portal")
HOUR = dt.timedelta(hours=1)


def set_clock(endpoints: dict[str, Endpoint], moment: dt.datetime) -> None:
    """Move every source API's simulated 'now' (PUT /admin/clock)."""
    for ep in endpoints.values():
        response = httpx.put(f"{ep.url}/admin/clock", json={"now": moment.isoformat()},
                             headers={"X-API-Key": ep.api_key}, timeout=10)
        response.raise_for_status()


@dataclass
class LiveRun:
    hours: int = 0
    failed: dict[str, list[dt.datetime]] = field(default_factory=dict)  # per source: the hours whose run failed
    caught_up: dict[str, set[tuple[dt.datetime, dt.datetime]]] = field(default_factory=dict)  # windows loaded again

    @property
    def failed_windows(self) -> int:
        return sum(len(v) for v in self.failed.values())


def run_hour(loader_dsn: str, endpoints: dict[str, Endpoint], moment: dt.datetime, run: LiveRun) -> None:
    """Each feed source's run for the hour that ends at ``moment``."""
    for source in FEEDS:
        for entity in chain_order(source):
            try:
                done = load_hour(loader_dsn, endpoints[source], entity, moment - HOUR, moment)
            except Exception as err:  # noqa: BLE001 (a source down: the chain stops, the next hour owes it)
                log.info("load failed", extra={"source": source, "entity": entity, "window_end": moment.isoformat(),
                                               "error": str(err)[:120]})
                run.failed.setdefault(source, []).append(moment)
                break
            run.caught_up.setdefault(source, set()).update((c.window_start, c.window_end) for c in done.caught_up)


def run_hours(loader_dsn: str, endpoints: dict[str, Endpoint], start: dt.datetime, end: dt.datetime,
              every_hour: Callable[[dt.datetime], None] | None = None, verify: bool = True) -> LiveRun:
    """Run [start, end) hour by hour with the sources' clock at each hour's end; ``every_hour(h)`` runs
    after the hour's loads (a build, a check)."""
    run = LiveRun()
    moment = start + HOUR
    while moment <= end:
        set_clock(endpoints, moment)
        run_hour(loader_dsn, endpoints, moment, run)
        if verify:
            verify_population(loader_dsn, endpoints["population"])
        run.hours += 1
        if every_hour:
            every_hour(moment)
        moment += HOUR
    return run
