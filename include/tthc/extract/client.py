"""One HTTP client for the three source APIs: API key, keyset paging, retries, bounded time.

Retries use exponential backoff with jitter on 5xx, timeouts and dropped connections; a ``429`` waits
what ``Retry-After`` says. The whole extraction of a window is bounded by ``max_seconds``. Logs carry
the source, path, page and counts, never the API key or a record's content.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_random_exponential

from tthc.config import DEFAULT_PAGE_SIZE

log = logging.getLogger("tthc.extract")
SOURCE_TIME_HEADER = "X-Source-Time"  # when (by the source's clock) it gave an answer; else our clock


class SourceError(RuntimeError):
    """A source API failed in a way retries do not fix (4xx, or out of retries/time)."""


class Throttled(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"429, retry after {retry_after}s")
        self.retry_after = retry_after


class Unavailable(Exception):
    """5xx: retried."""


def _retryable(err: BaseException) -> bool:
    return isinstance(err, Throttled | Unavailable | httpx.TimeoutException | httpx.TransportError)


class _Wait:
    """Backoff with full jitter, but at least what Retry-After asked for."""

    def __init__(self, initial: float, maximum: float):
        self.jitter = wait_random_exponential(multiplier=initial, max=maximum)

    def __call__(self, state: RetryCallState) -> float:
        err = state.outcome.exception() if state.outcome else None
        base = self.jitter(state)
        if isinstance(err, Throttled):
            return max(base, err.retry_after)
        return base


def parse_json(body: bytes):
    """orjson, falling back to the stdlib for text orjson refuses (a lone surrogate escape): such a
    record must reach validation, which quarantines it, rather than fail its whole page."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: building one (CA bundle loaded) costs ~50 ms, once per client otherwise."""
    return httpx.create_ssl_context()


@dataclass
class SourceClient:
    source: str
    base_url: str
    api_key: str
    timeout: float = 10.0
    max_attempts: int = 8
    max_seconds: float = 300.0
    backoff_initial: float = 0.2
    backoff_max: float = 5.0

    def __post_init__(self):
        self.http = httpx.Client(base_url=self.base_url, headers={"X-API-Key": self.api_key},
                                 timeout=httpx.Timeout(self.timeout), http2=False, verify=_tls())
        self.stats = {"requests": 0, "retries": 0, "seconds": 0.0}  # seconds: in requests, JSON parsed
        # the server's clock at its latest answer (X-Source-Time), else ours then; None before any answer
        self.source_time: dt.datetime | None = None


    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _request(self, method: str, path: str, deadline: float, **kwargs):
        def attempt():
            self.stats["requests"] += 1
            started = time.perf_counter()
            try:
                return answer(self.http.request(method, path, **kwargs))
            finally:
                self.stats["seconds"] += time.perf_counter() - started

        def answer(response: httpx.Response):
            stamp = response.headers.get(SOURCE_TIME_HEADER)
            self.source_time = dt.datetime.now(dt.UTC)  # our clock unless the source says its own
            if stamp:
                try:
                    self.source_time = dt.datetime.fromisoformat(stamp)
                except ValueError:
                    log.warning("unreadable source time", extra={"source": self.source, "value": stamp[:40]})
            if response.status_code == 429:
                raise Throttled(float(response.headers.get("Retry-After", "1")))
            if response.status_code >= 500:
                raise Unavailable(f"{response.status_code}")
            if response.status_code >= 400:
                raise SourceError(f"{self.source} {method} {path}: {response.status_code} "
                                  f"{response.text[:200]}")
            return parse_json(response.content)

        def before_sleep(state: RetryCallState) -> None:
            self.stats["retries"] += 1
            err = state.outcome.exception()
            log.warning("retrying", extra={"source": self.source, "path": path, "attempt": state.attempt_number,
                                           "error": type(err).__name__, "detail": str(err)[:80]})

        remaining = max(0.1, deadline - time.monotonic())
        retrying = Retrying(
            retry=retry_if_exception(_retryable), wait=_Wait(self.backoff_initial, self.backoff_max),
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(remaining),
            before_sleep=before_sleep, reraise=True)
        try:
            return retrying(attempt)
        except (Throttled, Unavailable, httpx.HTTPError) as err:
            raise SourceError(f"{self.source} {method} {path}: gave up after {self.max_attempts} attempts or "
                              f"{self.max_seconds:.0f}s: {type(err).__name__} {err}") from err

    def pages(self, path: str, since: dt.datetime | None, until: dt.datetime, limit: int = DEFAULT_PAGE_SIZE,
              ) -> Iterator[list[dict]]:
        """Every page of a change feed in [since, until)."""
        deadline = time.monotonic() + self.max_seconds
        params: dict = {"changed_until": until.isoformat(), "limit": limit}
        if since is not None:
            params["changed_since"] = since.isoformat()
        page = 0
        while True:
            body = self._request("GET", path, deadline, params=params)
            page += 1
            items = body["items"]
            log.info("page", extra={"source": self.source, "path": path, "page": page, "rows": len(items)})
            if items:
                yield items
            if not body.get("next_cursor"):
                return
            params["cursor"] = body["next_cursor"]

    def post(self, path: str, payload: dict) -> dict:
        deadline = time.monotonic() + self.max_seconds
        return self._request("POST", path, deadline, content=orjson.dumps(payload),
                             headers={"content-type": "application/json"})
