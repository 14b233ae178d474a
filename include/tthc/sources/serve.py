"""`tthc sources serve`: the three APIs on loopback ports, one uvicorn server each, in one process."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tthc import TthcError
from tthc import config as config_mod
from tthc.sources.api import API_PROFILES, Clock, create_app
from tthc.sources.store import SOURCES, store_path


def data_end(data_dir: Path) -> dt.datetime:
    """End of the simulated period (the default 'now' of the servers)."""
    truth = Path(data_dir) / "truth.json"
    if not truth.exists():
        raise TthcError(f"{data_dir} holds no simulated sources (no truth.json); run tthc simulate first")
    return dt.datetime.fromisoformat(json.loads(truth.read_text())["period"]["end"])


def source_urls(settings: config_mod.Settings) -> dict[str, str]:
    return {"onestop": settings.onestop_url, "population": settings.population_url, "portal": settings.portal_url}


async def _serve(data_dir: Path, now: dt.datetime, faults: str, settings: config_mod.Settings) -> None:
    import uvicorn

    servers = []
    for source, url in source_urls(settings).items():
        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise TthcError(f"{source} URL {url} is not on loopback: the local APIs only bind 127.0.0.1")
        app = create_app(source, data_dir, settings.api_key, Clock(now), API_PROFILES[faults])
        config = uvicorn.Config(app, host="127.0.0.1", port=parts.port or 80, log_level="warning",
                                access_log=False, lifespan="off")
        servers.append(uvicorn.Server(config))
    await asyncio.gather(*(s.serve() for s in servers))


def cli_serve(args) -> int:
    settings = config_mod.load()
    data_dir = args.data
    for source in SOURCES:
        if not store_path(data_dir, source).exists():
            raise TthcError(f"{store_path(data_dir, source)} is missing; run tthc simulate --out {data_dir}")
    if args.faults not in API_PROFILES:
        raise TthcError(f"unknown API fault profile {args.faults!r} (known: {', '.join(API_PROFILES)})")
    try:
        now = dt.datetime.fromisoformat(args.now) if args.now else data_end(data_dir)
    except ValueError:
        raise TthcError(f"--now is not an ISO-8601 time: {args.now!r}") from None
    if now.tzinfo is None:
        raise TthcError("--now needs a UTC offset, e.g. 2025-03-06T00:00:00+07:00")
    for source, url in source_urls(settings).items():
        print(f"{source:10} {url}  (openapi: {url}/openapi.json)", flush=True)
    print(f"simulated now: {now.isoformat()}; API key: X-API-Key from TTHC_API_KEY "
          f"(or {settings.home / 'secrets.json'})", flush=True)
    asyncio.run(_serve(data_dir, now, args.faults, settings))
    return 0


class SourcesProcess:
    """`tthc sources serve` as a child process (used by the demo and the tests): real HTTP."""

    def __init__(self, data_dir: Path, faults: str = "none", now: str | None = None, env: dict | None = None):
        cmd = [sys.executable, "-m", "tthc.cli", "sources", "serve", "--data", str(data_dir), "--faults", faults]
        if now:
            cmd += ["--now", now]
        self.env = {**os.environ, **(env or {})}
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        saved = dict(os.environ)
        os.environ.update(self.env)  # the URLs and key this server uses: its env's, not necessarily ours
        try:
            self.settings = config_mod.load()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @property
    def urls(self) -> dict[str, str]:
        return source_urls(self.settings)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        urls = list(self.urls.values())
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TthcError(f"sources server exited: {self.proc.stderr.read().strip()[-500:]}")
            try:
                if all(httpx.get(f"{u}/health", timeout=1).status_code == 200 for u in urls):
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TthcError("sources did not come up in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def __enter__(self):
        self.wait_ready()
        return self

    def __exit__(self, *exc):
        self.stop()
