"""The whole chain under failure: loads -> marts -> gap checks, held to a clean run of the same simulated
week (the session's `marts`: loaded day by day, built, checked) and to the simulator's truth. Every case
ends in the same three checksums: raw tables, marts (every mart, lineage columns left out) and the gap
findings."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace

import httpx
import psycopg
import pytest
from conftest import DAYS, ROOT, day, load, new_database, role_in, run_cli, table_checksums
from tthc.checks import run_check, score
from tthc.transform import build, mart_checksums

pytestmark = pytest.mark.slow
END = day(DAYS)


def findings(dsn: str, codes: tuple[str, ...] = ("G1", "G2", "G3", "G4", "G5", "G6", "G7")) -> list[tuple]:
    """The gap register as inspectors read it (retracted findings left out), run bookkeeping left out."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("""
            SELECT gap_code, gap_key, agency_code, opened_at, closed_at FROM audit.sync_gap
            WHERE retracted_at IS NULL AND gap_code = ANY(%s) ORDER BY 1, 2, 4, 5""", (list(codes),)).fetchall()


ANSWER_TIMES = {"dim_applicant": {"verified_at"}}  # when the population database answered (see below)


def without_verifications(checksums: dict) -> dict:
    """The population database's answers carry the time they were given (``verified_at``): hourly runs ask
    hour by hour, a backfill asks at its end; every other raw table holds the same versions either way."""
    return {t: c for t, c in checksums.items() if t != "raw_population.verifications"}


def built_and_checked(admin: str, settings) -> str:
    transformer = role_in(admin, settings, "tthc_transformer")
    result = build(transformer)
    assert result.success, [(r["name"], r["message"]) for r in result.failures]
    run_check(transformer, END, settings, full=True, gx=False)
    return transformer


def put_faults(endpoints: dict, **faults) -> None:
    for ep in endpoints.values():
        httpx.put(f"{ep.url}/admin/faults", json=faults, headers={"X-API-Key": ep.api_key}).raise_for_status()


@pytest.fixture(scope="module")
def clean(marts, settings):
    """The clean run's checksums; its gaps G1-G7 are the truth's, exactly."""
    admin, transformer, data = marts
    run_check(transformer, END, settings, full=True, gx=False)
    accuracy = score(transformer, data / "truth.json")
    assert {c: (a["recall"], a["precision"]) for c, a in accuracy.items() if c != "G8"} == \
        {c: (1.0, 1.0) for c in accuracy if c != "G8"}
    assert findings(admin)  # the week has gaps to compare
    return {"admin": admin, "raw": table_checksums(admin), "marts": mart_checksums(admin), "gaps": findings(admin)}


def test_faults_on_every_source_at_once_change_no_mart_and_no_gap(clean, week, warehouse, settings, caplog):
    """10% 5xx, 5% timeouts, duplicated and shuffled pages and 429s on all three APIs at once."""
    data, endpoints = week
    admin, loader = new_database(warehouse, settings, "t_rel_faults")
    impatient = {s: replace(ep, timeout=0.5) for s, ep in endpoints.items()}  # the slow answers time out
    put_faults(endpoints, profile="chaos", slow_seconds=1.0, seed=16)
    try:
        with caplog.at_level(logging.WARNING, logger="tthc"):
            for n in range(DAYS):
                load(loader, impatient, day(n), day(n + 1))
    finally:
        put_faults(endpoints, profile="none")
    retried = [r for r in caplog.records if r.getMessage() == "retrying"]
    assert len(retried) >= 10 and {r.error for r in retried} >= {"Unavailable", "Throttled", "ReadTimeout"}
    built_and_checked(admin, settings)
    assert table_checksums(admin) == clean["raw"]
    assert mart_checksums(admin) == clean["marts"]
    assert findings(admin) == clean["gaps"]


def test_kill_9_of_the_build_and_of_the_check_then_a_rerun_converges(clean, week, warehouse, settings):
    """dbt build and the gap check killed with SIGKILL at a seeded random moment, then run again."""
    data, endpoints = week
    admin, loader = new_database(warehouse, settings, "t_rel_kill")
    for n in range(DAYS):
        load(loader, endpoints, day(n), day(n + 1))
    env = {**os.environ, "TTHC_WAREHOUSE_DB": "t_rel_kill"}
    rng = random.Random(11)
    for command, after in ((["build"], rng.uniform(1, 5)),
                           (["check", "--as-of", END.isoformat(), "--full", "--no-gx"], rng.uniform(0, 0.3))):
        proc = subprocess.Popen([sys.executable, "-m", "tthc.cli", *command], env=env, cwd=ROOT,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with psycopg.connect(admin, autocommit=True) as conn:  # once it works in the warehouse, then a while
            while proc.poll() is None and not conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 't_rel_kill' AND state = 'active' "
                    "AND usename = 'tthc_transformer'").fetchone()[0]:
                time.sleep(0.02)
        time.sleep(after)
        assert proc.poll() is None, f"{command[0]} ended before the kill: {proc.stderr.read()[-500:]}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if command[0] == "build":
            transformer = built_and_checked(admin, settings)
    run_check(transformer, END, settings, full=True, gx=False)
    assert mart_checksums(admin) == clean["marts"]
    assert findings(admin) == clean["gaps"]


def test_bad_input_at_every_door_gets_a_clear_answer(clean, week, marts):
    data, endpoints = week
    admin = marts[0]
    truth = json.loads((data / "truth.json").read_text())
    with psycopg.connect(admin) as conn:  # every bad record of the week, in the quarantine with its reason
        got = dict(conn.execute("SELECT reason, count(*) FROM raw_onestop.quarantine GROUP BY 1").fetchall())
        assert conn.execute("SELECT count(*) FROM raw_onestop.quarantine WHERE raw_payload = '' OR reason = ''"
                            ).fetchone()[0] == 0
    assert got == truth["bad_record_counts"]
    ep = endpoints["onestop"]
    with httpx.Client(base_url=ep.url, headers={"X-API-Key": ep.api_key}) as client:
        until = END.isoformat()
        for params, names in (({"changed_until": until, "limit": 5001}, "limit"),
                              ({"changed_until": until, "limit": 0}, "limit"),
                              ({"changed_until": "yesterday"}, "changed_until"),
                              ({"changed_until": until, "changed_since": "2025-13-01"}, "changed_since"),
                              ({"changed_until": until, "cursor": "not-a-cursor"}, "cursor")):
            answer = client.get("/v1/dossiers", params=params)
            assert 400 <= answer.status_code < 500 and names in answer.text, (params, answer.text[:200])
    population = endpoints["population"]
    too_many = {"items": [{"id": f"{n:012d}"} for n in range(501)]}
    answer = httpx.post(f"{population.url}/v1/citizens/verify", json=too_many, headers={"X-API-Key": population.api_key})
    assert answer.status_code == 422 and "items" in answer.text
    for variable, value in (("TTHC_PAGE_SIZE", "many"), ("TTHC_PAGE_SIZE", "0"), ("TTHC_PROVINCE", "4")):
        result = run_cli("coverage", env={variable: value})
        assert result.returncode != 0 and variable in result.stderr, (variable, result.stderr)
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
