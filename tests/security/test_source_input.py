"""Bad client input at the simulated source APIs: a 4xx with a JSON body naming the parameter or field,
never a 5xx, never an unbounded body or echo; the pipeline's own requests stay well inside every bound.

Read-only requests go to the session's `tthc sources serve` (real HTTP: Content-Length and chunked
bodies); the admin endpoints, which change a server's state, to an app of the test's own."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from tthc.config import DEFAULT_PAGE_SIZE
from tthc.pipeline import VERIFY_BATCH
from tthc.sources.api import (
    API_PROFILES,
    FEED_PATHS,
    MAX_BODY_BYTES,
    MAX_CURSOR_CHARS,
    MAX_ID_CHARS,
    MAX_IN_FLIGHT,
    MAX_LIMIT,
    MAX_NAME_CHARS,
    MAX_OUTAGES,
    MAX_QUERY_BYTES,
    MAX_SEED,
    MAX_SLOW_SECONDS,
    MAX_VERIFY,
    Clock,
    create_app,
)
from tthc.sources.serve import data_end
from tthc.sources.store import SOURCES, store_path

KEY = "test-key"
FEEDS = {source: [FEED_PATHS[e] for e in SOURCES[source]] for source in ("onestop", "portal")}
START = "2025-03-03T08:00:00+07:00"


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _names(response: httpx.Response) -> list[str]:
    """What a 4xx's JSON body names: the message of a 400/413/414, every field of a 422's ``loc``."""
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return [detail]
    return [str(part) for error in detail for part in error["loc"]]


@pytest.fixture(scope="module")
def served(sources):
    """(URLs, a client with the key) of the session's sources."""
    with httpx.Client(headers={"X-API-Key": sources.settings.api_key}, timeout=30) as client:
        yield sources.urls, client


@pytest.fixture
def own(sim_dir):
    """An app of the test's own (the one-stop's), whose faults and clock it may change."""
    app = create_app("onestop", sim_dir, KEY, Clock(data_end(sim_dir)))
    with TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": KEY}) as client:
        yield client


@pytest.mark.parametrize("source", sorted(FEEDS))
def test_a_cursor_past_64_bits_or_malformed_is_400_naming_cursor(served, source):
    urls, client = served
    bad = [_cursor(f"{2**63}:0"), _cursor(f"0:{2**63}"), _cursor(f"{-(2**63) - 1}:0"), _cursor("1:-1"),
           _cursor("1:2:3"), _cursor("1e5:1"), _cursor("1:"), _cursor("\u0661:2"), _cursor("9" * 30 + ":1"),
           "!!", "%%%", "\u00e9t\u00e9"]
    for path in FEEDS[source]:  # every malformed kind on one feed (they share the code), 2^63 on each
        for cursor in bad if path == FEEDS[source][0] else bad[:1]:
            r = client.get(urls[source] + path, params={"cursor": cursor})
            assert r.status_code == 400, (path, cursor, r.status_code, r.text[:200])
            assert _names(r)[0].startswith("cursor:"), r.text
        # the largest cursor SQLite can compare is fine (nothing after it)
        r = client.get(urls[source] + path, params={"cursor": _cursor(f"{2**63 - 1}:{2**63 - 1}")})
        assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}
        r = client.get(urls[source] + path, params={"cursor": "A" * (MAX_CURSOR_CHARS + 1)})
        assert r.status_code == 422 and _names(r) == ["query", "cursor"]


def test_window_bounds_and_limit_out_of_range_are_4xx_naming_them(served):
    urls, client = served
    feed = urls["onestop"] + "/v1/status-changes"
    for name in ("changed_since", "changed_until"):
        for value in ("1969-12-31T23:59:59+00:00", "2100-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00",
                      "9999-12-31T23:59:59-14:00", "2025-03-03T10:00:00"):
            r = client.get(feed, params={name: value})
            assert r.status_code == 400 and _names(r)[0].startswith(name), (name, value, r.text)
        for value in ("not a time", "2025-13-01T00:00:00+07:00", "1e400", "9" * 40):
            r = client.get(feed, params={name: value})
            assert r.status_code == 422 and _names(r) == ["query", name], (name, value, r.text)
    for value in ("0", "-1", str(MAX_LIMIT + 1), "1.5", "x", str(10**30)):
        r = client.get(feed, params={"limit": value})
        assert r.status_code == 422 and _names(r) == ["query", "limit"], (value, r.text)
    edges = {"changed_since": "1970-01-01T00:00:00+00:00", "changed_until": "2099-12-31T23:59:59+00:00",
             "limit": MAX_LIMIT}
    assert client.get(feed, params=edges).status_code == 200


def test_a_query_string_over_the_limit_is_414(served):
    urls, client = served
    for source, path in (("onestop", "/v1/dossiers"), ("portal", "/v1/sync-records"), ("population", "/health")):
        r = client.get(urls[source] + path, params={"pad": "x" * MAX_QUERY_BYTES})
        assert r.status_code == 414 and "query string" in _names(r)[0], r.text[:200]


def test_bodies_over_the_limit_are_413_on_every_api(served):
    """Finding: a 10 MB verification body was accepted (and its IDs echoed). Now 413 before it is parsed,
    by its Content-Length, or by counting a chunked body as it arrives; the same on every API."""
    urls, client = served
    verify = urls["population"] + "/v1/citizens/verify"
    body = orjson.dumps({"items": [{"id": "0" * 20_000}] * MAX_VERIFY})  # 10 MB in a batch of allowed size
    assert len(body) > 2 * MAX_BODY_BYTES

    def chunked():
        for i in range(0, len(body), 64 * 1024):
            yield body[i:i + 64 * 1024]

    json_type = {"content-type": "application/json"}
    r = client.post(verify, content=body, headers=json_type)
    assert r.status_code == 413 and "body over" in _names(r)[0]
    r = client.post(verify, content=chunked(), headers=json_type)
    assert r.request.headers["transfer-encoding"] == "chunked" and "content-length" not in r.request.headers
    assert r.status_code == 413 and "body over" in _names(r)[0]
    for source in ("onestop", "portal"):
        r = client.request("GET", urls[source] + FEEDS[source][0], content=body[:MAX_BODY_BYTES + 1])
        assert r.status_code == 413, r.text[:200]
        assert r.headers["X-Source-Time"]  # it still says when, like every answer
    assert client.get(urls["onestop"] + "/v1/dossiers", params={"limit": 1}).status_code == 200


def test_admin_bodies_over_the_limit_are_413(own):
    before = own.get("/admin/faults").json()
    big = orjson.dumps({"outages": [], "seed": 1, "pad": "x" * MAX_BODY_BYTES})
    r = own.put("/admin/faults", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and own.get("/admin/faults").json() == before
    r = own.put("/admin/clock", content=b" " * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_verification_batches_and_fields_are_bounded(served, sim_dir):
    urls, client = served
    verify = urls["population"] + "/v1/citizens/verify"
    cases = [
        ({"items": [{"id": "1"}] * (MAX_VERIFY + 1)}, ["body", "items"]),
        ({"items": [{"id": ""}]}, ["body", "items", "0", "id"]),
        ({"items": [{"id": "1" * (MAX_ID_CHARS + 1)}]}, ["body", "items", "0", "id"]),
        ({"items": [{"id": "001099000000", "name": "x" * (MAX_NAME_CHARS + 1)}]}, ["body", "items", "0", "name"]),
        ({"items": [{"id": "001099000000", "birth_date": "2025-02-30"}]}, ["body", "items", "0", "birth_date"]),
        ({"items": [{"id": 1}]}, ["body", "items", "0", "id"]),
        ({"items": "all"}, ["body", "items"]),
        ({}, ["body", "items"]),
    ]
    for body, loc in cases:
        r = client.post(verify, json=body)
        assert r.status_code == 422 and _names(r)[:len(loc)] == loc, (str(body)[:80], r.text[:300])
        assert len(r.content) < 10_000  # names the field; never echoes the input
    for raw in (b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b'{"items": [{"id": 1e400}]}'):
        r = client.post(verify, content=raw, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500 and r.json()["detail"], (raw[:20], r.status_code)
    # the largest batch the limits allow: every ID a real one, every name as long as a loaded record's
    pids = [k for (k,) in sqlite3.connect(store_path(sim_dir, "population")).execute(
        "SELECT key FROM citizens LIMIT ?", (MAX_VERIFY,))]
    pids = (pids * MAX_VERIFY)[:MAX_VERIFY]
    biggest = {"items": [{"id": pid, "name": "\u1ec5" * MAX_NAME_CHARS, "birth_date": "1990-01-01"}
                         for pid in pids]}
    assert MAX_BODY_BYTES // 2 < len(orjson.dumps(biggest)) < MAX_BODY_BYTES
    r = client.post(verify, content=orjson.dumps(biggest), headers={"content-type": "application/json"})
    assert r.status_code == 200 and len(r.json()["results"]) == MAX_VERIFY
    assert {x["result"] for x in r.json()["results"]} == {"mismatch"}


def test_the_pipelines_requests_stay_well_inside_the_limits(sim_dir):
    assert VERIFY_BATCH <= MAX_VERIFY and DEFAULT_PAGE_SIZE <= MAX_LIMIT
    rows = sqlite3.connect(store_path(sim_dir, "population")).execute(
        "SELECT key, payload FROM citizens LIMIT ?", (VERIFY_BATCH,)).fetchall()
    batch = orjson.dumps({"items": [{"id": pid, "name": json.loads(p)["HoVaTen"]} for pid, p in rows]})
    assert len(batch) * 20 < MAX_BODY_BYTES  # as tthc.pipeline.verify_population sends it
    since = dt.datetime(2025, 3, 3, 10, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    query = httpx.QueryParams({"changed_until": (since + dt.timedelta(hours=1)).isoformat(),
                               "limit": DEFAULT_PAGE_SIZE, "changed_since": since.isoformat(),
                               "cursor": _cursor(f"{2**53}:{2**40}")})
    assert len(str(query)) * 10 < MAX_QUERY_BYTES


BAD_FAULTS = [
    (b'{"seed": 1e400}', "seed"),  # finding: a 500 (the 422 echoed an infinity JSON cannot encode)
    (b'{"seed": -1e400}', "seed"),
    ({"seed": -1}, "seed"),
    ({"seed": MAX_SEED + 1}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"seed": "seven"}, "seed"),
    ({"max_in_flight": -1}, "max_in_flight"),  # finding: accepted (then every request answered 429)
    ({"max_in_flight": 0}, "max_in_flight"),
    ({"max_in_flight": MAX_IN_FLIGHT + 1}, "max_in_flight"),
    ({"error_rate": 1.5}, "error_rate"),
    ({"timeout_rate": -0.1}, "timeout_rate"),
    (b'{"duplicate_rate": NaN}', "duplicate_rate"),
    (b'{"shuffle_rate": Infinity}', "shuffle_rate"),
    ({"throttle_rate": 2}, "throttle_rate"),
    ({"slow_seconds": -1}, "slow_seconds"),
    ({"slow_seconds": MAX_SLOW_SECONDS + 1}, "slow_seconds"),
    (b'{"slow_seconds": 1e400}', "slow_seconds"),
    ({"profile": "nope"}, "profile"),
    ({"profile": 1}, "profile"),
    ({"outages": "down"}, "outages"),
    ({"outages": [{"mode": "gone", "start": START}]}, "mode"),
    ({"outages": [{"mode": "down"}]}, "start"),
    ({"outages": [{"mode": "down", "start": "2025-03-03T08:00:00"}]}, "start"),  # no offset
    ({"outages": [{"mode": "down", "start": "1969-12-31T23:00:00+00:00"}]}, "start"),
    ({"outages": [{"mode": "down", "start": "2100-01-01T07:00:00+07:00"}]}, "start"),
    ({"outages": [{"mode": "down", "start": "0001-01-01T00:00:00+14:00"}]}, "start"),
    ({"outages": [{"mode": "down", "start": START, "end": "9999-12-31T23:59:59-14:00"}]}, "end"),
    ({"outages": [{"mode": "down", "start": START, "end": START}]}, "outages"),  # end not after start
    ({"outages": [{"mode": "stale", "start": START, "end": "2025-03-03T07:00:00+07:00"}]}, "outages"),
    ({"outages": [{"mode": "down", "start": START}] * (MAX_OUTAGES + 1)}, "outages"),
    ({"outages": [{"mode": "down", "start": START, "source": "onestop"}]}, "source"),
    ({"error_rat": 0.5}, "error_rat"),  # a misspelt field is not silently ignored
    ([], "body"),
]


def test_the_faults_body_is_validated_field_by_field(own):
    before = own.get("/admin/faults").json()
    for body, field in BAD_FAULTS:
        r = (own.put("/admin/faults", content=body, headers={"content-type": "application/json"})
             if isinstance(body, bytes) else own.put("/admin/faults", json=body))
        assert r.status_code == 422, (body if isinstance(body, bytes) else str(body)[:100], r.status_code, r.text)
        assert field in _names(r), (field, r.text)
        assert own.get("/admin/faults").json() == before
    assert own.get("/v1/dossiers", params={"limit": 1}).status_code == 200  # nothing of it was applied
    # the bounds themselves are allowed, and every profile by name
    edges = {"error_rate": 0, "timeout_rate": 1, "duplicate_rate": 1.0, "shuffle_rate": 0.0, "throttle_rate": 0,
             "slow_seconds": MAX_SLOW_SECONDS, "max_in_flight": 1, "seed": MAX_SEED}
    r = own.put("/admin/faults", json=edges)
    assert r.status_code == 200 and {k: r.json()[k] for k in edges} == edges
    r = own.put("/admin/faults", json={"slow_seconds": 0, "max_in_flight": MAX_IN_FLIGHT, "seed": 0, "outages": [
        {"mode": "down", "start": START}, {"mode": "stale", "start": "1970-01-01T00:00:00+00:00",
                                           "end": "2099-12-31T23:59:59+00:00"}]})
    assert r.status_code == 200 and len(r.json()["outages"]) == 2
    schema = own.get("/openapi.json").json()["components"]["schemas"]["FaultsUpdate"]["properties"]["profile"]
    assert {v for branch in schema["anyOf"] for v in branch.get("enum", [])} == set(API_PROFILES)
    for name in API_PROFILES:
        assert own.put("/admin/faults", json={"profile": name}).status_code == 200


def test_the_clock_body_is_validated(own):
    before = own.get("/health").json()["now"]
    for now in ("2025-03-03T10:00:00", "1969-12-31T23:59:59+00:00", "2100-01-01T00:00:00+00:00",
                "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "", "soon", 1e300, None):
        r = own.put("/admin/clock", json={"now": now})
        assert r.status_code == 422 and "now" in _names(r), (now, r.text)
    r = own.put("/admin/clock", content=b'{"now": 1e400}', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "now" in _names(r)
    assert own.put("/admin/clock", json={"now": START, "later": 1}).status_code == 422
    assert own.get("/health").json()["now"] == before
    assert own.get("/v1/dossiers", params={"limit": 1}).status_code == 200
    assert own.put("/admin/clock", json={"now": "1970-01-01T00:00:00+00:00"}).status_code == 200
    assert own.get("/v1/dossiers", params={"limit": 1}).json() == {"items": [], "next_cursor": None}
