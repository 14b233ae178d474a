"""Simulator and the three source APIs (real HTTP against `tthc sources serve`)."""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import subprocess
import sys

import httpx
import pytest
import schemathesis
from conftest import run_cli
from hypothesis import HealthCheck, settings
from hypothesis import given as hypothesis_given
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from tthc import TthcError, config
from tthc.calendar import TZ, add_working_days, is_working_day, opening, working_days_between
from tthc.sources.api import Clock, create_app, encode_cursor
from tthc.sources.serve import SourcesProcess, data_end
from tthc.sources.sim import BAD_KINDS, simulate, to_us
from tthc.sources.sim.catalogue import build_catalogue
from tthc.sources.store import SOURCES, store_path
from tthc.warehouse import free_port


def test_same_seed_gives_byte_identical_stores_and_truth(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 5), (b, 5), (c, 6)):
        simulate(seed, dt.date(2025, 6, 29), 3, out, dossiers_per_year=30_000, faults="heavy")
    for name in [*(f"{s}.sqlite" for s in SOURCES), "truth.json", "faults.json"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "truth.json").read_bytes() != (c / "truth.json").read_bytes()


def test_personal_ids_encode_province_gender_century_and_birth_year(sim_dir):
    conn = sqlite3.connect(store_path(sim_dir, "population"))
    rows = [json.loads(p) for (p,) in conn.execute("SELECT payload FROM citizens")]
    assert len(rows) > 300
    for rec in rows:
        pid, birth = rec["SoDinhDanh"], dt.date.fromisoformat(rec["NgaySinh"])
        assert len(pid) == 12 and pid.isdigit()
        assert 1 <= int(pid[:3]) <= 96
        century_digit = int(pid[3])
        assert century_digit in ((0, 1) if birth.year < 2000 else (2, 3))
        assert century_digit % 2 == (1 if rec["GioiTinh"] == 2 else 0)
    year_ok = sum(r["SoDinhDanh"][4:6] == r["NgaySinh"][2:4] for r in rows) / len(rows)
    assert year_ok == 1.0
    share_home = sum(r["SoDinhDanh"].startswith("040") for r in rows) / len(rows)
    assert share_home > 0.7  # most applicants were born in the province
    assert not any(r["SoCMND"] for r in rows)  # 9-digit ID cards expired at the end of 2024


def test_older_dossiers_may_carry_legacy_id_cards(tmp_path):
    simulate(2, dt.date(2024, 5, 6), 1, tmp_path, dossiers_per_year=100_000, faults="none")
    conn = sqlite3.connect(store_path(tmp_path, "population"))
    legacy = [x for (x,) in conn.execute("SELECT legacy_id FROM citizens WHERE legacy_id IS NOT NULL")]
    assert legacy and all(len(x) == 9 and x.isdigit() for x in legacy)
    ids = {json.loads(p)["SoGiayToChuHoSo"] for (p,) in sqlite3.connect(store_path(tmp_path, "onestop")).execute(
        "SELECT payload FROM dossiers")}
    assert set(legacy) <= ids  # the dossiers carry the card number, the registry resolves it


def test_working_days_skip_weekends_and_tet():
    assert not is_working_day(dt.date(2025, 1, 29))  # lunar New Year's day 2025
    assert not is_working_day(dt.date(2026, 2, 17))  # lunar New Year's day 2026
    assert is_working_day(dt.date(2025, 2, 3))
    friday_before_tet = dt.datetime(2025, 1, 24, 9, 0, tzinfo=TZ)
    assert add_working_days(friday_before_tet, 3) == dt.datetime(2025, 2, 5, 9, 0, tzinfo=TZ)
    assert working_days_between(dt.date(2025, 1, 24), dt.date(2025, 2, 5)) == 3
    # received on a Saturday: counting starts on Monday morning
    assert add_working_days(dt.datetime(2025, 3, 8, 10, 0, tzinfo=TZ), 1) == opening(dt.date(2025, 3, 11))
    with pytest.raises(ValueError):
        is_working_day(dt.date(2031, 1, 2))


def test_dossier_due_dates_are_statutory_working_days(sim_dir):
    conn = sqlite3.connect(store_path(sim_dir, "onestop"))
    days = {json.loads(p)["MaTTHC"]: json.loads(p)["ThoiHanGiaiQuyet"]
            for (p,) in conn.execute("SELECT payload FROM procedures")}
    checked = 0
    for (p,) in conn.execute("SELECT payload FROM dossiers WHERE payload LIKE '%\"PhienBan\":1,%' LIMIT 300"):
        rec = json.loads(p)
        if rec.get("NgayTiepNhan") and rec["MaTTHC"] in days:
            received = dt.datetime.fromisoformat(rec["NgayTiepNhan"])
            assert dt.datetime.fromisoformat(rec["NgayHenTra"]) == add_working_days(received, days[rec["MaTTHC"]])
            checked += 1
    assert checked > 50


def test_reform_merges_nghe_an_communes_into_seats_and_abolishes_districts():
    cat = build_catalogue(random.Random("x"), "40")
    geo = cat.geo
    assert len(geo.districts) == 20 and len(geo.communes_old) == 412 and len(geo.communes_new) == 130
    assert sum(c["ward"] for c in geo.communes_new) == 11  # 119 xa + 11 phuong
    old_codes = [int(c["code"]) for c in geo.communes_old]
    assert min(old_codes) == 16681 and max(old_codes) == 18040 and len(set(old_codes)) == 412
    assert {d["code"] for d in geo.districts} == {"412", *(str(n) for n in range(414, 433))}
    new_codes = {c["code"] for c in geo.communes_new}
    assert new_codes <= {c["code"] for c in geo.communes_old}  # a merged unit keeps its seat's code
    assert set(geo.old_to_new) == {c["code"] for c in geo.communes_old} and set(geo.old_to_new.values()) == new_codes
    for new in geo.communes_new:
        assert new["code"] in new["members"] and all(geo.old_to_new[m] == new["code"] for m in new["members"])
    assert cat.desks("district", dt.date(2025, 6, 30)) == cat.district_desks
    assert cat.desks("district", dt.date(2025, 7, 1)) == cat.commune_desks_new
    # every abolished desk names a successor that exists after the reform
    continuing = {a.code for a in cat.commune_desks_new}
    abolished = {a.code for a in (*cat.district_desks, *cat.commune_desks_old)} - continuing
    assert set(cat.successor) == abolished and {a.code for a in cat.successor.values()} <= continuing
    other = build_catalogue(random.Random("x"), "01")  # nothing hard-wired to Nghe An
    assert all(a.code.endswith(".H01") for a in other.departments) and len(other.geo.communes_new) > 0


def test_truth_lists_every_bad_kind_and_gap_code(sim_dir):
    truth = json.loads((sim_dir / "truth.json").read_text())
    assert set(truth["bad_record_counts"]) == set(BAD_KINDS)
    assert set(truth["gap_counts"]) == {f"G{n}" for n in range(1, 9)}
    assert set(truth["definitions"]) == set(truth["clocks"]) == set(truth["keys"]) == set(truth["gap_counts"])
    for gap in truth["gaps"]:
        assert gap["closed_at"] is None or gap["closed_at"] > gap["opened_at"]
        assert gap["opened_at"] < truth["period"]["end"]


def _endpoints():
    s = config.load()
    return {"onestop": s.onestop_url, "population": s.population_url, "portal": s.portal_url}, s.api_key


def _page_all(client, url, params, rng=None):
    items, params = [], dict(params)
    while True:
        if rng:
            params["limit"] = rng.randint(1, 700)
        body = client.get(url, params=params).raise_for_status().json()
        items += body["items"]
        if not body["next_cursor"]:
            return items
        params["cursor"] = body["next_cursor"]


def test_api_key_required(sources):
    urls, key = _endpoints()
    for source, url in urls.items():
        path = "/v1/citizens/verify" if source == "population" else "/v1/" + SOURCES[source][0].replace("_", "-")
        method = "POST" if source == "population" else "GET"
        assert httpx.request(method, url + path, json={"items": []}).status_code == 401
        assert httpx.request(method, url + path, json={"items": []}, headers={"X-API-Key": "wrong"}).status_code == 401
        assert httpx.get(url + "/openapi.json").status_code == 200


def test_random_page_sizes_return_every_record_exactly_once(sources, sim_dir):
    urls, key = _endpoints()
    rng = random.Random(3)
    with httpx.Client(headers={"X-API-Key": key}) as client:
        for source, entity in (("onestop", "status_changes"), ("onestop", "dossiers"), ("portal", "sync_records")):
            got = _page_all(client, f"{urls[source]}/v1/{entity.replace('_', '-')}", {}, rng)
            stored = sqlite3.connect(store_path(sim_dir, source)).execute(
                f"SELECT payload FROM {entity} ORDER BY changed_us, seq").fetchall()
            assert len(got) == len(stored)
            assert got == [json.loads(p) for (p,) in stored]  # each once, in (change time, arrival) order


def test_window_is_half_open_and_never_past_now(sources, sim_dir):
    urls, key = _endpoints()
    conn = sqlite3.connect(store_path(sim_dir, "onestop"))
    since = dt.datetime(2025, 3, 3, 10, tzinfo=TZ)
    until = dt.datetime(2025, 3, 3, 11, tzinfo=TZ)
    expected = conn.execute("SELECT count(*) FROM status_changes WHERE changed_us >= ? AND changed_us < ?",
                            (to_us(since), to_us(until))).fetchone()[0]
    edge = conn.execute("SELECT changed_us FROM status_changes WHERE changed_us >= ? ORDER BY changed_us LIMIT 1",
                        (to_us(until),)).fetchone()[0]
    with httpx.Client(headers={"X-API-Key": key}) as client:
        url = f"{urls['onestop']}/v1/status-changes"
        got = _page_all(client, url, {"changed_since": since.isoformat(), "changed_until": until.isoformat()})
        assert len(got) == expected > 0
        assert all(since <= dt.datetime.fromisoformat(r["NgayCapNhat"]) < until for r in got)
        # a record exactly at the window's end belongs to the next window
        edge_at = dt.datetime.fromtimestamp(edge / 1e6, dt.UTC)
        before = _page_all(client, url, {"changed_since": (edge_at - dt.timedelta(hours=1)).isoformat(),
                                         "changed_until": edge_at.isoformat()})
        nxt = _page_all(client, url, {"changed_since": edge_at.isoformat(),
                                      "changed_until": (edge_at + dt.timedelta(seconds=1)).isoformat()})
        assert all(dt.datetime.fromisoformat(r["NgayCapNhat"]) < edge_at for r in before)
        assert dt.datetime.fromisoformat(nxt[0]["NgayCapNhat"]) == edge_at
        # the simulated 'now': nothing recorded after it is visible, whatever the window says
        scheduled = client.get(f"{urls['onestop']}/admin/faults").json()["outages"]
        client.put(f"{urls['onestop']}/admin/faults", json={"outages": []}).raise_for_status()
        client.put(f"{urls['onestop']}/admin/clock", json={"now": "2025-03-03T10:30:00+07:00"}).raise_for_status()
        try:
            got = _page_all(client, url, {"changed_since": since.isoformat(), "changed_until": until.isoformat()})
            assert 0 < len(got) < expected
            assert max(dt.datetime.fromisoformat(r["NgayCapNhat"]) for r in got) < since + dt.timedelta(minutes=30)
        finally:
            client.put(f"{urls['onestop']}/admin/clock", json={"now": "2025-03-05T00:00:00+07:00"}).raise_for_status()
            client.put(f"{urls['onestop']}/admin/faults", json={"outages": scheduled}).raise_for_status()
        assert client.get(url, params={"changed_since": "2025-03-03T10:00:00"}).status_code == 400  # no offset
        assert client.get(url, params={"cursor": "!!"}).status_code == 400


def test_fault_injection_toggles(sources):
    urls, key = _endpoints()
    url = urls["portal"]
    with httpx.Client(headers={"X-API-Key": key}) as client:
        feed = f"{url}/v1/sync-records"
        try:
            client.put(f"{url}/admin/faults", json={"error_rate": 1.0}).raise_for_status()
            assert client.get(feed).status_code == 503
            client.put(f"{url}/admin/faults", json={"profile": "none", "throttle_rate": 1.0}).raise_for_status()
            r = client.get(feed)
            assert r.status_code == 429 and r.headers["Retry-After"] == "1"
            client.put(f"{url}/admin/faults", json={"profile": "none", "duplicate_rate": 1.0}).raise_for_status()
            first = client.get(feed, params={"limit": 5}).json()
            second = client.get(feed, params={"limit": 5, "cursor": first["next_cursor"]}).json()
            assert second["items"][0] == first["items"][-1] and len(second["items"]) == 6
            client.put(f"{url}/admin/faults", json={"profile": "none", "shuffle_rate": 1.0}).raise_for_status()
            page = client.get(feed, params={"limit": 50}).json()["items"]
            times = [r["NgayCapNhat"] for r in page]
            assert times != sorted(times)
            client.put(f"{url}/admin/faults", json={"profile": "none", "timeout_rate": 1.0,
                                                    "slow_seconds": 1.0}).raise_for_status()
            with pytest.raises(httpx.TimeoutException):
                client.get(feed, timeout=0.3)
        finally:
            client.put(f"{url}/admin/faults", json={"profile": "none"}).raise_for_status()
        assert client.get(feed, params={"limit": 5}).status_code == 200


def test_outages_by_the_clock_hide_changes_then_catch_up(sources, sim_dir):
    """G8: a stale source serves nothing recorded from the outage's start; a down one answers 503; once
    the outage is over, everything is served again (the hidden changes included)."""
    urls, key = _endpoints()
    truth = json.loads((sim_dir / "truth.json").read_text())
    outage = next(o for o in truth["outages"] if o["source"] == "onestop")
    start, end = dt.datetime.fromisoformat(outage["start"]), dt.datetime.fromisoformat(outage["end"])
    window = {"changed_since": (start - dt.timedelta(hours=1)).isoformat(), "changed_until": end.isoformat()}
    url = urls["onestop"]
    with httpx.Client(headers={"X-API-Key": key}) as client:
        feed = f"{url}/v1/status-changes"
        scheduled = client.get(f"{url}/admin/faults").json()["outages"]
        assert [(o["mode"], o["start"]) for o in scheduled] == [(outage["mode"], start.isoformat())]
        try:
            everything = _page_all(client, feed, window)
            assert any(dt.datetime.fromisoformat(r["NgayCapNhat"]) >= start for r in everything)
            client.put(f"{url}/admin/clock", json={"now": (end - dt.timedelta(minutes=1)).isoformat()})
            during = _page_all(client, feed, window)  # the scheduled outage (stale) is on
            assert during and all(dt.datetime.fromisoformat(r["NgayCapNhat"]) < start for r in during)
            client.put(f"{url}/admin/faults", json={"outages": [{"mode": "down", "start": start.isoformat()}]})
            down = client.get(feed, params=window)  # a down source still says when it refused (G8 replays it)
            assert down.status_code == 503
            assert down.headers["X-Source-Time"] == (end - dt.timedelta(minutes=1)).isoformat()
            client.put(f"{url}/admin/faults", json={"outages": [{"mode": "down", "start": "2025-03-03T08:00:00"}]})
            assert client.get(f"{url}/admin/faults").json()["outages"][0]["mode"] == "down"  # unchanged: no offset
            client.put(f"{url}/admin/clock", json={"now": "2025-03-05T00:00:00+07:00"})
            client.put(f"{url}/admin/faults", json={"outages": scheduled})
            assert _page_all(client, feed, window) == everything  # over: caught up
        finally:
            client.put(f"{url}/admin/clock", json={"now": "2025-03-05T00:00:00+07:00"}).raise_for_status()
            client.put(f"{url}/admin/faults", json={"outages": scheduled}).raise_for_status()


def test_population_verification_without_bulk_export(sources, sim_dir):
    urls, key = _endpoints()
    conn = sqlite3.connect(store_path(sim_dir, "population"))
    pid, payload = conn.execute("SELECT key, payload FROM citizens LIMIT 1").fetchone()
    name = json.loads(payload)["HoVaTen"]
    with httpx.Client(headers={"X-API-Key": key}) as client:
        url = f"{urls['population']}/v1/citizens/verify"
        body = client.post(url, json={"items": [{"id": pid, "name": name}, {"id": pid, "name": "Ai Đó"},
                                                {"id": "001099000000"}]}).raise_for_status().json()
        assert [r["result"] for r in body["results"]] == ["found", "mismatch", "not_found"]
        assert body["results"][1]["mismatched"] == ["name"]
        assert "HoVaTen" not in json.dumps(body)  # answers, never the record
        assert client.post(url, json={"items": [{"id": "1"}] * 501}).status_code == 422
        assert client.get(f"{urls['population']}/v1/citizens").status_code in (404, 405)


@pytest.mark.parametrize("source", ["onestop", "population", "portal"])
def test_openapi_holds_under_schemathesis(sources, source):
    urls, key = _endpoints()
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{urls[source]}/openapi.json", "-H", f"X-API-Key: {key}",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                     "response_schema_conformance",
         "--max-examples", "15", "--phases", "examples,coverage,fuzzing", "--seed", "1", "--no-color",
         "-w", "1", "--exclude-path-regex", "^/admin/"],
        capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:]


# --- bad client input: schemathesis against an app of the test's own (in process), admin endpoints included
FUZZ_KEY = "fuzz-key"
FUZZ_SETTINGS = {"deadline": None, "derandomize": True, "database": None,
                 "suppress_health_check": list(HealthCheck)}


def _own_app(sim_dir, source):
    """(app, a function restoring its faults and clock): each generated case starts from the same state
    (a generated PUT /admin/faults may set error_rate 1 or a 60 s timeout, which is not a bug)."""
    now = data_end(sim_dir)
    clock = Clock(now)
    app = create_app(source, sim_dir, FUZZ_KEY, clock)
    state, initial = app.state.faults, app.state.faults["faults"]

    def reset():
        state["faults"], state["rng"], clock.now = initial, random.Random(initial.seed), now

    return app, reset


FAULT_NUMBERS = ("error_rate", "timeout_rate", "slow_seconds", "duplicate_rate", "shuffle_rate", "throttle_rate",
                 "max_in_flight", "seed")
INT64_EDGES = st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64])


def _edge_values(operation):
    """What a client can send and a JSON schema cannot describe, drawn by hypothesis beside schemathesis'
    case: a cursor that is the base64 of any two integers (the 64-bit edges included), and any JSON number
    in the number fields of PUT /admin/faults (Infinity, NaN and 1e400 included). None: nothing to add."""
    if operation.method.upper() == "GET" and operation.path.startswith("/v1/"):
        integers = st.one_of(st.integers(), INT64_EDGES)
        return st.tuples(integers, integers).map(lambda pair: ("cursor", encode_cursor(*pair)))
    if operation.method.upper() == "PUT" and operation.path == "/admin/faults":
        numbers = st.one_of(st.integers(), INT64_EDGES, st.floats(), st.just(1e400))
        return st.dictionaries(st.sampled_from(FAULT_NUMBERS), numbers, min_size=1).map(
            lambda body: ("body", json.dumps(body).encode()))  # Infinity/NaN as Python's json writes them
    return None


def _with_edge(case, edge):
    if edge is None:
        return case
    kind, value = edge
    if kind == "cursor":
        case.query = {**(case.query or {}), "cursor": value}
    else:
        case.body = value
    return case


@pytest.mark.parametrize("source", ["onestop", "population", "portal"])
def test_no_5xx_for_any_generated_input(sim_dir, source):
    """Schemathesis' negative data generation on every operation (admin ones included), its positive
    generation on the admin ones (the CLI test above leaves them out), and positive cases carrying the
    edge values of `_edge_values`: never a 5xx, whatever the input. The admin and health endpoints are the
    same code in every app: fuzzed in the one-stop's only."""
    app, reset = _own_app(sim_dir, source)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    seen: dict[tuple[str, int], int] = {}
    feeds = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if source != "onestop" and not operation.path.startswith("/v1/"):
            continue
        edges = _edge_values(operation)
        runs = [(GenerationMode.NEGATIVE, None)]
        runs += [(GenerationMode.POSITIVE, None)] if "/admin/" in operation.path else []
        runs += [(GenerationMode.POSITIVE, edges)] if edges is not None else []
        feeds += operation.path.startswith("/v1/") and operation.method.upper() == "GET"
        examples = 15 if feeds > 1 else 50  # the feeds after the first share its handler
        for mode, extra in runs:
            @settings(max_examples=examples, **FUZZ_SETTINGS)
            @hypothesis_given(case=operation.as_strategy(mode), edge=extra if extra is not None else st.none())
            def check(case, edge):
                reset()
                case = _with_edge(case, edge)
                response = case.call(headers={"X-API-Key": FUZZ_KEY})
                key = (case.operation.label, response.status_code)
                seen[key] = seen.get(key, 0) + 1
                assert response.status_code < 500, (case.as_curl_command(), response.status_code, response.text[:300])
                if response.status_code >= 400:
                    assert response.json()["detail"], response.text[:300]

            try:
                check()
            except Unsatisfiable:  # an operation without parameters or body has no negative input
                assert mode is GenerationMode.NEGATIVE and not operation.query and not operation.body
    rejected = {label for (label, status), _ in seen.items() if 400 <= status < 500 and status not in (401, 429)}
    if source == "onestop":
        assert any(label.startswith("PUT /admin/faults") for label in rejected), seen  # it did reach validation
    assert any(label.startswith(("GET /v1/", "POST /v1/")) for label in rejected), seen


@pytest.mark.parametrize("source", ["onestop", "portal"])
def test_paging_links_hold_under_schemathesis_stateful(sim_dir, source):
    """Schemathesis' stateful phase follows each feed's `next_page` link (next_cursor into the cursor of the
    same feed) mixed with generated windows, limits and cursors: never a 5xx."""
    app, reset = _own_app(sim_dir, source)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    followed = []

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": {"X-API-Key": FUZZ_KEY}}

        def validate_response(self, response, case, **kwargs):
            assert response.status_code < 500, (case.as_curl_command(), response.status_code, response.text[:300])
            if response.status_code == 200 and (case.query or {}).get("cursor"):
                followed.append(case.query["cursor"])

    reset()
    Workflow.run(settings=settings(max_examples=25, stateful_step_count=5, **FUZZ_SETTINGS))
    assert followed  # some transitions paged on with a cursor the server gave


def test_serve_on_a_busy_port_is_one_line_naming_it(sim_dir):
    """`tthc sources serve` (and a parent running it as a child) on a port already taken: one line naming
    the port, exit status 1; no traceback."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"TTHC_ONESTOP_URL": f"http://127.0.0.1:{free_port()}",
               "TTHC_POPULATION_URL": f"http://127.0.0.1:{port}", "TTHC_PORTAL_URL": f"http://127.0.0.1:{free_port()}"}
        result = run_cli("sources", "serve", "--data", str(sim_dir), env=env, timeout=60)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"tthc: error: cannot serve the population API: port {port} of 127.0.0.1 is already in use "
            f"(its URL: http://127.0.0.1:{port})"], result.stderr
        served = SourcesProcess(sim_dir, env=env)
        try:
            with pytest.raises(TthcError) as err:
                served.wait_ready(timeout=60)
        finally:
            served.stop()
        assert "\n" not in str(err.value)
        assert str(err.value) == (f"sources server exited (1): cannot serve the population API: port {port} of "
                                  f"127.0.0.1 is already in use (its URL: http://127.0.0.1:{port})")
