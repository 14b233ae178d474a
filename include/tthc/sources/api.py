"""The three source APIs (FastAPI), each backed by its own simulator store.

Contract (docs/ARCHITECTURE.md, "Source API contract"): JSON over HTTP, ``X-API-Key``, ``/openapi.json``, keyset
pagination (``cursor`` + ``limit``), change feeds on the half-open window
``[changed_since, changed_until)`` of the time the source *recorded* a change, never past the
server's simulated "now", ``429`` with ``Retry-After`` under load, and fault injection switched on per
run (5xx, responses slower than a client's timeout, duplicate rows across pages, out-of-order rows).

Client input is bounded and checked before any work: a bad query parameter or body field gets a 4xx
with a JSON body naming it (400 ``{"detail": "cursor: ..."}``, or 422 ``{"detail": [{"loc": [...],
"msg": ..., "type": ...}]}``), a body over ``MAX_BODY_BYTES`` a 413 and a query string over
``MAX_QUERY_BYTES`` a 414; never a 5xx.

Pages are built from the stored JSON text without re-encoding, so a client is not held back by the
server (see ``tthc bench``).
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import re
import sqlite3
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from tthc.sources.sim.common import to_us
from tthc.sources.store import SOURCES, open_store

SOURCE_TIME_HEADER = "X-Source-Time"  # on every answer: the server's clock (ISO-8601 with offset)
MAX_LIMIT = 5000
# Bounds of client input (the pipeline's own requests stay far inside them: pages of at most MAX_LIMIT,
# verification batches of 500 IDs, i.e. some 40 kB, cursors of ~50 characters).
MAX_BODY_BYTES = 4 * 1024 * 1024  # any request body; room for MAX_VERIFY items with MAX_NAME_CHARS-long names
MAX_QUERY_BYTES = 2048  # the raw query string
MAX_CURSOR_CHARS = 64  # a next_cursor is at most 52 (two 64-bit integers, base64)
MAX_VERIFY = 500  # IDs per verification request
MAX_ID_CHARS = 32  # an ID is 9 or 12 digits; longer is not an ID
MAX_NAME_CHARS = 2000  # as long as a text field of a loaded record may be (the loader's MAX_TEXT)
MAX_OUTAGES = 64
MAX_SLOW_SECONDS = 60.0
MAX_IN_FLIGHT = 1024
MAX_SEED = 2**63 - 1
INT64 = (-(2**63), 2**63 - 1)  # what SQLite compares with a stored integer
TIME_RANGE = (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))  # [from, to)
ERROR_RESPONSES = {
    400: {"description": "invalid cursor, or a window bound without a UTC offset or outside "
                         "[1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z); the detail names the parameter"},
    401: {"description": "missing or wrong X-API-Key"},
    413: {"description": f"request body over {MAX_BODY_BYTES} bytes"},
    414: {"description": f"query string over {MAX_QUERY_BYTES} bytes"},
    429: {"description": "too many requests; retry after the Retry-After header's seconds"},
    503: {"description": "temporarily unavailable (retry with backoff)"},
}
ADMIN_RESPONSES = {k: ERROR_RESPONSES[k] for k in (401, 413, 414)}
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


def _in_time_range(value: dt.datetime) -> dt.datetime:
    if not TIME_RANGE[0] <= value < TIME_RANGE[1]:
        raise ValueError("must lie in [1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z)")
    return value


# a moment in a body: ISO-8601 with a UTC offset, in TIME_RANGE
Moment = Annotated[AwareDatetime, AfterValidator(_in_time_range)]
Rate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class VerifyItem(BaseModel):
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS,
                    description="12-digit personal ID number (or a 9-digit legacy ID card number)")
    name: str | None = Field(default=None, max_length=MAX_NAME_CHARS,
                             description="full name as on the dossier, compared if given")
    birth_date: dt.date | None = Field(default=None, description="compared if given")


class VerifyRequest(BaseModel):
    items: list[VerifyItem] = Field(max_length=MAX_VERIFY)


class OutageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["stale", "down"] = Field(description="stale: serve nothing recorded from start on; "
                                                       "down: answer 503")
    start: Moment = Field(description="ISO-8601 with offset, by the server's clock")
    end: Moment | None = Field(default=None, description="after start; None: until the next update clears it")

    @model_validator(mode="after")
    def _ends_after_start(self) -> OutageSpec:
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class FaultsUpdate(BaseModel):
    """Fields left out keep their value (or the profile's, when a profile is given)."""

    model_config = ConfigDict(extra="forbid")

    profile: Literal["none", "flaky", "chaos"] | None = None  # the keys of API_PROFILES
    outages: list[OutageSpec] | None = Field(default=None, max_length=MAX_OUTAGES,
                                             description="replaces the outages (the G8 fault); [] clears them")
    error_rate: Rate | None = None
    timeout_rate: Rate | None = None
    slow_seconds: Annotated[float, Field(ge=0.0, le=MAX_SLOW_SECONDS, allow_inf_nan=False)] | None = None
    duplicate_rate: Rate | None = None
    shuffle_rate: Rate | None = None
    throttle_rate: Rate | None = None
    max_in_flight: Annotated[int, Field(ge=1, le=MAX_IN_FLIGHT)] | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None


class ClockUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    now: Moment


def _faults_json(f: ApiFaults) -> dict:
    return {**{k: v for k, v in asdict(f).items() if k != "outages"},
            "outages": [{"mode": o.mode, "start": o.start.isoformat(), "end": o.end and o.end.isoformat()}
                        for o in f.outages]}


def encode_cursor(changed_us: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{changed_us}:{seq}".encode()).decode().rstrip("=")


_CURSOR = re.compile(r"(-?[0-9]{1,19}):([0-9]{1,19})")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(change time, seq) of a ``next_cursor``; 400 for anything this API cannot have given (SQLite's
    integers are 64-bit: a larger one would fail the query)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except ValueError:  # binascii.Error, UnicodeDecodeError
        raw = ""
    match = _CURSOR.fullmatch(raw)
    if match:
        changed_us, seq = int(match[1]), int(match[2])
        if INT64[0] <= changed_us <= INT64[1] and seq <= INT64[1]:
            return changed_us, seq
    raise HTTPException(400, f"cursor: not a next_cursor of this API ({cursor[:MAX_CURSOR_CHARS]!r})")


def _aware(name: str, value: dt.datetime | None) -> dt.datetime | None:
    """A window bound: with a UTC offset, in TIME_RANGE (400 naming the parameter otherwise)."""
    if value is None:
        return None
    if value.utcoffset() is None:
        raise HTTPException(400, f"{name} needs a UTC offset (ISO-8601, e.g. 2025-03-03T00:00:00+07:00)")
    if not TIME_RANGE[0] <= value < TIME_RANGE[1]:
        raise HTTPException(400, f"{name} must lie in [1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z)")
    return value


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, f"request body over {MAX_BODY_BYTES} bytes")


class InputLimits:
    """ASGI middleware: 414 for a query string over ``MAX_QUERY_BYTES``; 413 for a body over
    ``MAX_BODY_BYTES``, by its Content-Length before anything is read, else (chunked) by counting the
    bytes as they arrive. Both as JSON, like every other error of these APIs."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            return await JSONResponse({"detail": f"query string over {MAX_QUERY_BYTES} bytes"},
                                      status_code=414)(scope, receive, send)
        length = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
        if not length.isdigit():  # the HTTP server refuses such requests first; an ASGI test client may not
            return await JSONResponse({"detail": "invalid Content-Length"}, status_code=400)(scope, receive, send)
        if len(length) > 18 or int(length) > MAX_BODY_BYTES:
            return await JSONResponse({"detail": BodyTooLarge().detail}, status_code=413)(scope, receive, send)
        received = 0
        started = False

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise BodyTooLarge()
            return message

        async def sending(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except BodyTooLarge as err:  # read outside a route's body parsing (which answers 413 itself)
            if started:
                raise
            await JSONResponse({"detail": err.detail}, status_code=413)(scope, receive, send)


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each bad field (``loc``), without echoing the input: it may be megabytes, or a float
    JSON cannot encode (``1e400`` parses to infinity, which made the default handler fail with a 500)."""
    errors = exc.errors()
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors[:20]]
    return JSONResponse({"detail": detail}, status_code=422)


def create_app(source: str, data_dir: Path, api_key: str, clock: Clock, faults: ApiFaults | None = None) -> FastAPI:
    titles = {"onestop": "One-stop system (Một cửa điện tử) API", "population": "National population database "
              "(mock) API", "portal": "National public service portal (Cổng DVCQG) API"}
    app = FastAPI(title=titles[source], version="1.0", description=__doc__)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_middleware(InputLimits)  # first: the middlewares below wrap it (its 413/414 get X-Source-Time)
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

    @app.put("/admin/faults", tags=["ops"], dependencies=[Depends(require_key)], responses=ADMIN_RESPONSES)
    def set_faults(update: FaultsUpdate) -> dict:
        base = state["faults"]
        if update.profile is not None:
            base = replace(API_PROFILES[update.profile], outages=base.outages)  # outages change only when given
        changes = {k: v for k, v in update.model_dump().items() if k not in ("profile", "outages") and v is not None}
        if update.outages is not None:
            changes["outages"] = tuple(Outage(o.mode, o.start, o.end) for o in update.outages)
        state["faults"] = replace(base, **changes)
        state["rng"] = random.Random(state["faults"].seed)
        return _faults_json(state["faults"])

    @app.get("/admin/faults", tags=["ops"], dependencies=[Depends(require_key)], responses=ADMIN_RESPONSES)
    def get_faults() -> dict:
        return _faults_json(state["faults"])

    @app.put("/admin/clock", tags=["ops"], dependencies=[Depends(require_key)], responses=ADMIN_RESPONSES)
    def set_clock(update: ClockUpdate) -> dict:
        clock.now = update.now
        return {"now": clock.now.isoformat()}

    def feed(entity: str):
        def handler(
            changed_since: Annotated[dt.datetime | None, Query(description="window start (inclusive), ISO-8601 "
                                                                           "with offset")] = None,
            changed_until: Annotated[dt.datetime | None, Query(description="window end (exclusive); capped at the "
                                                                           "server's now")] = None,
            cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS,
                                                description="next_cursor of the previous page")] = None,
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
                operation_id=f"list_{entity}",
                responses={**ERROR_RESPONSES, 200: {"content": {"application/json": {"schema": {
                    "type": "object", "required": ["items", "next_cursor"], "properties": {
                        "items": {"type": "array", "items": {"type": "object"}},
                        "next_cursor": {"type": ["string", "null"]}}}}},
                    # the next page: the same window, from this page's next_cursor (a stateful test follows it)
                    "links": {"next_page": {"operationId": f"list_{entity}", "parameters": {
                        "cursor": "$response.body#/next_cursor",
                        "changed_since": "$request.query.changed_since",
                        "changed_until": "$request.query.changed_until",
                        "limit": "$request.query.limit"}}}}})(feed(entity))

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
