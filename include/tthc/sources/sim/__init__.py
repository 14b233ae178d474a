"""Deterministic simulator of one province's administrative-procedure systems.

``simulate(seed, start, days, out, ...)`` writes three stores (one-stop, population, portal; see
``tthc.sources.store``), ``faults.json`` (the outages the source APIs inject by their clock) and
``truth.json``: every synchronisation gap G1-G8 with the interval in which it is open, the rules in
words, and every bad record, so that a check run at any simulated moment can be scored.

Modules, one concern each: ``geography`` (administrative units and the 2025 reform), ``catalogue``
(agencies, procedures, agencies' habits), ``people`` (applicants, ID numbers), ``lifecycle`` (status
changes in working time), ``portal`` (pushes, applications, payments, ratings, petitions),
``faults`` (what goes wrong on purpose), ``truth`` (the gap rules), ``simulator`` (the driver) and
``mix`` (the realism report: measured figures next to the published ones).

Field names follow the national data conventions (DVCQG / Circular 01/2018), in Vietnamese.
"""

from __future__ import annotations

import datetime as dt

from tthc.sources.sim.common import iso, to_us
from tthc.sources.sim.faults import BAD_KINDS, PROFILES
from tthc.sources.sim.simulator import simulate
from tthc.sources.sim.truth import Params

__all__ = ["BAD_KINDS", "PROFILES", "cli_simulate", "iso", "simulate", "to_us"]


def cli_simulate(args) -> int:
    import time

    from tthc import TthcError
    from tthc import config as config_mod
    from tthc.calendar import is_working_day
    from tthc.provinces import check_code

    settings = config_mod.load()
    province = check_code(args.province, "--province") if args.province else settings.province
    if args.faults not in PROFILES:
        raise TthcError(f"unknown fault profile {args.faults!r} (known: {', '.join(PROFILES)})")
    try:
        is_working_day(args.start)
        is_working_day(args.start + dt.timedelta(days=args.days))
    except ValueError as err:
        raise TthcError(str(err)) from None
    params = Params.from_settings(settings)
    t0 = time.monotonic()
    if args.quiet:
        truth = simulate(args.seed, args.start, args.days, args.out, args.dossiers_per_year, args.faults, province,
                         params=params)
    else:
        from rich.progress import Progress

        with Progress() as bar:
            task = bar.add_task("simulating days", total=args.days)
            truth = simulate(args.seed, args.start, args.days, args.out, args.dossiers_per_year, args.faults,
                             province, progress=lambda n: bar.update(task, completed=n), params=params)
    took = time.monotonic() - t0
    print(f"simulated {truth['counts']['dossiers']} dossiers, {truth['counts']['status_changes']} status changes "
          f"in {took:.1f}s -> {args.out}")
    print(f"gaps injected: {truth['gap_counts']}; bad records: {sum(truth['bad_record_counts'].values())}; "
          f"outages: {len(truth['outages'])}")
    if args.mix:
        from tthc.sources.sim.mix import measure, render

        print(render(measure(args.out)))
    return 0
