"""The three source APIs (FastAPI), each backed by its own simulator store.

Contract (DESIGN.md, "Source APIs"): JSON over HTTP, ``X-API-Key``, ``/openapi.json``, keyset
pagination (``cursor`` + ``limit``), change feeds on the half-open window
``[changed_since, changed_until)`` of the time the source *recorded* a change, never past the
server's simulated "now", ``429`` with ``Retry-After`` under load, and fault injection switched on per
run (5xx, responses slower than a client's timeout, duplicate rows across pages, out-of-order rows).

Pages are built from the stored JSON text without re-encoding, so a client is not held back by the
server (see ``tthc bench``).
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import sqlite3
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tthc.sources.sim.common import to_us
from tthc.sources.store import SOURCES, open_store

SOURCE_TIME_HEADER = "X-Source-Time"  # on every answer: the server's clock (ISO-8601 with offset)
MAX_LIMIT = 5000
ERROR_RESPONSES = {
    400: {"description": "invalid cursor, or a window bound without a UTC offset"},
    401: {"description": "missing or wrong X-API-Key"},
    429: {"description": "too many requests; retry after the Retry-After header's seconds"},
    503: {"description": "temporarily unavailable (retry with backoff)"},
}
MAX_VERIFY = 500
FEED_PATHS = {entity: "/v1/" + entity.replace("_", "-") for entities in SOURCES.values() for entity in entities}


@dataclass(frozen=True)
class Outage:
    """A source outage by the server's clock (G8): from ``start`` to ``end`` (None: until cleared) the API
    serves nothing recorded at or after ``start`` (``stale``) or answers 503 to every feed (``down``);
    afterwards it serves everything again, the hidden changes included."""

    mode: str
    start: dt.datetime
    end: dt.datetime | None = None

    def active(self, now: dt.datetime) -> bool:
        return self.start <= now and (self.end is None or now < self.end)


def load_outages(data_dir: Path, source: str) -> tuple[Outage, ...]:
    """The outages the simulation scheduled for ``source`` (``faults.json`` beside the stores)."""
    path = Path(data_dir) / "faults.json"
    if not path.exists():
        return ()
    return tuple(Outage(o["mode"], dt.datetime.fromisoformat(o["start"]), dt.datetime.fromisoformat(o["end"]))
                 for o in orjson.loads(path.read_bytes())["outages"] if o["source"] == source)


@dataclass
class ApiFaults:
    """Fault injection of one API (rates per request, except duplicate/shuffle: per page)."""

    error_rate: float = 0.0  # 503
    timeout_rate: float = 0.0  # answer only after `slow_seconds`
    slow_seconds: float = 3.0
    duplicate_rate: float = 0.0  # repeat the previous page's last row at the top of this page
    shuffle_rate: float = 0.0  # rows of the page out of change-time order
    max_in_flight: int = 16  # beyond this many concurrent requests: 429 + Retry-After
    throttle_rate: float = 0.0  # 429 at random, as a gateway under load does
    seed: int = 0
    outages: tuple[Outage, ...] = ()  # by the server's clock; see Outage


API_PROFILES = {
    "none": ApiFaults(),
    "flaky": ApiFaults(error_rate=0.05, timeout_rate=0.02, duplicate_rate=0.1, shuffle_rate=0.2, throttle_rate=0.02),
    "chaos": ApiFaults(error_rate=0.10, timeout_rate=0.05, duplicate_rate=0.3, shuffle_rate=0.5, throttle_rate=0.05),
}


class Clock:
    """The server's simulated 'now': a record is never visible before the time it was recorded."""

    def __init__(self, now: dt.datetime):
        self.now = now

    @property
    def now_us(self) -> int:
        return to_us(self.now)


class VerifyItem(BaseModel):
    id: str = Field(description="12-digit personal ID number (or a 9-digit legacy ID card number)")
    name: str | None = Field(default=None, description="full name as on the dossier, compared if given")
    birth_date: dt.date | None = Field(default=None, description="compared if given")


class VerifyRequest(BaseModel):
    items: list[VerifyItem] = Field(max_length=MAX_VERIFY)


class OutageSpec(BaseModel):
    mode: str = Field(pattern="^(stale|down)$", description="stale: serve nothing recorded from start on; "
                                                             "down: answer 503")
    start: dt.datetime = Field(description="ISO-8601 with offset, by the server's clock")
    end: dt.datetime | None = Field(default=None, description="None: until the next update clears it")


class FaultsUpdate(BaseModel):
    profile: str | None = None
    outages: list[OutageSpec] | None = Field(default=None, description="replaces the outages (the G8 fault); "
                                                                       "[] clears them")
    error_rate: float | None = None
    timeout_rate: float | None = None
    slow_seconds: float | None = None
    duplicate_rate: float | None = None
    shuffle_rate: float | None = None
    throttle_rate: float | None = None
    max_in_flight: int | None = None
    seed: int | None = None


class ClockUpdate(BaseModel):
    now: dt.datetime


def _faults_json(f: ApiFaults) -> dict:
    return {**{k: v for k, v in asdict(f).items() if k != "outages"},
            "outages": [{"mode": o.mode, "start": o.start.isoformat(), "end": o.end and o.end.isoformat()}
                        for o in f.outages]}


def encode_cursor(changed_us: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{changed_us}:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        a, b = raw.split(":")
        return int(a), int(b)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, f"invalid cursor {cursor!r}") from None


def _aware(name: str, value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(400, f"{name} needs a UTC offset (ISO-8601, e.g. 2025-03-03T00:00:00+07:00)")
    return value


def create_app(source: str, data_dir: Path, api_key: str, clock: Clock, faults: ApiFaults | None = None) -> FastAPI:
    titles = {"onestop": "One-stop system (Một cửa điện tử) API", "population": "National population database "
              "(mock) API", "portal": "National public service portal (Cổng DVCQG) API"}
    app = FastAPI(title=titles[source], version="1.0", description=__doc__)
    # the scheduled outages of the simulation apply whatever the fault profile (they are part of the data)
    state = {"faults": replace(faults or ApiFaults(), outages=load_outages(data_dir, source)), "in_flight": 0,
             "requests": 0}
    state["rng"] = random.Random(state["faults"].seed)
    lock = threading.Lock()
    local = threading.local()

    def db() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = open_store(data_dir, source)
        return conn

    def require_key(request: Request) -> None:
        if request.headers.get("x-api-key") != api_key:
            raise HTTPException(401, "missing or wrong X-API-Key", headers={"WWW-Authenticate": "ApiKey"})

    @app.middleware("http")
    async def load_shedding(request: Request, call_next):
        if request.url.path.startswith("/v1/"):
            f: ApiFaults = state["faults"]
            with lock:
                state["requests"] += 1
                roll = state["rng"].random()
                busy = state["in_flight"] >= f.max_in_flight
                if not busy:
                    state["in_flight"] += 1
            if busy or roll < f.throttle_rate:
                if not busy:
                    with lock:
                        state["in_flight"] -= 1
                return JSONResponse({"detail": "too many requests"}, status_code=429, headers={"Retry-After": "1"})
            try:
                if roll < f.throttle_rate + f.error_rate or any(o.mode == "down" and o.active(clock.now)
                                                                  for o in f.outages):
                    return JSONResponse({"detail": "injected fault: service unavailable"}, status_code=503)
                if roll < f.throttle_rate + f.error_rate + f.timeout_rate:
                    import asyncio

                    await asyncio.sleep(f.slow_seconds)
                return await call_next(request)
            finally:
                with lock:
                    state["in_flight"] -= 1
        return await call_next(request)

    @app.middleware("http")
    async def source_time(request: Request, call_next):
        """Every answer says when, by the server's clock, it was given (X-Source-Time): what a load saw
        and when is the observation the freshness rule G8 replays. Added last, so it wraps the others
        (an injected 429/503 says the time too)."""
        response = await call_next(request)
        response.headers[SOURCE_TIME_HEADER] = clock.now.isoformat()
        return response

    @app.get("/health", tags=["ops"])
    def health() -> dict:
        return {"status": "ok", "source": source, "now": clock.now.isoformat()}

    @app.put("/admin/faults", tags=["ops"], dependencies=[Depends(require_key)])
    def set_faults(update: FaultsUpdate) -> dict:
        base = state["faults"]
        if update.profile is not None:
            if update.profile not in API_PROFILES:
                raise HTTPException(400, f"unknown profile {update.profile!r}")
            base = replace(API_PROFILES[update.profile], outages=base.outages)  # outages change only when given
        changes = {k: v for k, v in update.model_dump().items() if k not in ("profile", "outages") and v is not None}
        if update.outages is not None:
            for o in update.outages:
                _aware("start", o.start)
                _aware("end", o.end)
            changes["outages"] = tuple(Outage(o.mode, o.start, o.end) for o in update.outages)
        state["faults"] = replace(base, **changes)
        state["rng"] = random.Random(state["faults"].seed)
        return _faults_json(state["faults"])

    @app.get("/admin/faults", tags=["ops"], dependencies=[Depends(require_key)])
    def get_faults() -> dict:
        return _faults_json(state["faults"])

    @app.put("/admin/clock", tags=["ops"], dependencies=[Depends(require_key)])
    def set_clock(update: ClockUpdate) -> dict:
        clock.now = _aware("now", update.now)
        return {"now": clock.now.isoformat()}

    def feed(entity: str):
        def handler(
            changed_since: Annotated[dt.datetime | None, Query(description="window start (inclusive), ISO-8601 "
                                                                           "with offset")] = None,
            changed_until: Annotated[dt.datetime | None, Query(description="window end (exclusive); capped at the "
                                                                           "server's now")] = None,
            cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
            limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
        ) -> Response:
            since = to_us(_aware("changed_since", changed_since)) if changed_since else 0
            until = min(to_us(_aware("changed_until", changed_until)) if changed_until else 2**62, clock.now_us)
            for o in state["faults"].outages:  # a stale source serves nothing recorded from the outage on
                if o.mode == "stale" and o.active(clock.now):
                    until = min(until, to_us(o.start))
            after = decode_cursor(cursor) if cursor else (since - 1, 0)
            rows = db().execute(
                f"SELECT changed_us, seq, payload FROM {entity} WHERE changed_us >= ? AND changed_us < ? "
                "AND (changed_us, seq) > (?, ?) ORDER BY changed_us, seq LIMIT ?",
                (since, until, after[0], after[1], limit)).fetchall()
            next_cursor = encode_cursor(rows[-1][0], rows[-1][1]) if len(rows) == limit else None
            payloads = [r[2] for r in rows]
            f: ApiFaults = state["faults"]
            with lock:
                dup, shuffle = state["rng"].random() < f.duplicate_rate, state["rng"].random() < f.shuffle_rate
            if dup and cursor:
                prev = db().execute(f"SELECT payload FROM {entity} WHERE changed_us = ? AND seq = ?", after).fetchone()
                if prev:
                    payloads.insert(0, prev[0])
            if shuffle:
                random.Random(after[1]).shuffle(payloads)
            body = b'{"items":[' + ",".join(payloads).encode() + b'],"next_cursor":' + orjson.dumps(next_cursor) + b"}"
            return Response(body, media_type="application/json")

        handler.__name__ = f"list_{entity}"
        return handler

    for entity in SOURCES[source]:
        if entity == "citizens":
            continue
        app.get(FEED_PATHS[entity], tags=["change feeds"], dependencies=[Depends(require_key)],
                summary=f"{entity.replace('_', ' ')} recorded in [changed_since, changed_until)",
                responses={**ERROR_RESPONSES, 200: {"content": {"application/json": {"schema": {
                    "type": "object", "required": ["items", "next_cursor"], "properties": {
                        "items": {"type": "array", "items": {"type": "object"}},
                        "next_cursor": {"type": ["string", "null"]}}}}}}})(feed(entity))

    if source == "population":
        @app.post("/v1/citizens/verify", tags=["verification"], dependencies=[Depends(require_key)],
                  responses=ERROR_RESPONSES)
        def verify(request: VerifyRequest) -> dict:
            """Batch verification: found / not_found / mismatch per ID. No bulk export of citizens."""
            results = []
            conn = db()
            for item in request.items:
                column = "legacy_id" if len(item.id) == 9 else "key"
                row = conn.execute(f"SELECT payload FROM citizens WHERE {column} = ?", (item.id,)).fetchone()
                if row is None:
                    results.append({"id": item.id, "result": "not_found", "mismatched": []})
                    continue
                rec = orjson.loads(row[0])
                mismatched = []
                if item.name is not None and item.name.strip().casefold() != rec["HoVaTen"].casefold():
                    mismatched.append("name")
                if item.birth_date is not None and item.birth_date.isoformat() != rec["NgaySinh"]:
                    mismatched.append("birth_date")
                results.append({"id": item.id, "result": "mismatch" if mismatched else "found",
                                "mismatched": mismatched})
            return {"results": results, "verified_at": clock.now.isoformat()}

    app.state.faults = state
    return app
