"""`tthc sources serve`: the three APIs on loopback ports, one uvicorn server each, in one process."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
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


def listen(settings: config_mod.Settings) -> dict[str, socket.socket]:
    """A bound socket per source on its loopback port, before anything is served: a port already in
    use (or refused) is one line naming it, not uvicorn's traceback."""
    sockets: dict[str, socket.socket] = {}
    try:
        for source, url in source_urls(settings).items():
            parts = urlsplit(url)
            if parts.hostname not in ("127.0.0.1", "localhost"):
                raise TthcError(f"{source} URL {url} is not on loopback: the local APIs only bind 127.0.0.1")
            port = parts.port or 80
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no obstacle
            try:
                sock.bind(("127.0.0.1", port))
                sock.listen(2048)  # claimed now (two bound sockets may share a port until one listens)
            except OSError as err:
                sock.close()
                reason = "is already in use" if err.errno == errno.EADDRINUSE else f"cannot be bound ({err.strerror})"
                raise TthcError(f"cannot serve the {source} API: port {port} of 127.0.0.1 {reason} "
                                f"(its URL: {url})") from None
            sockets[source] = sock
    except BaseException:
        for sock in sockets.values():
            sock.close()
        raise
    return sockets


async def _serve(data_dir: Path, now: dt.datetime, faults: str, settings: config_mod.Settings,
                 sockets: dict[str, socket.socket]) -> None:
    import uvicorn

    servers = []
    for source, sock in sockets.items():
        app = create_app(source, data_dir, settings.api_key, Clock(now), API_PROFILES[faults])
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        servers.append((uvicorn.Server(config), sock))
    try:
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in servers))
    except SystemExit as err:  # uvicorn exits when it cannot start; its reason is already logged
        raise TthcError(f"the source APIs stopped (uvicorn exit status {err.code})") from None


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
    sockets = listen(settings)
    try:
        for source, url in source_urls(settings).items():
            print(f"{source:10} {url}  (openapi: {url}/openapi.json)", flush=True)
        print(f"simulated now: {now.isoformat()}; API key: X-API-Key from TTHC_API_KEY "
              f"(or {settings.home / 'secrets.json'})", flush=True)
        asyncio.run(_serve(data_dir, now, args.faults, settings, sockets))
    finally:
        for sock in sockets.values():
            sock.close()
    return 0


class SourcesProcess:
    """`tthc sources serve` as a child process (used by the demo and the tests): real HTTP."""

    def __init__(self, data_dir: Path, faults: str = "none", now: str | None = None, env: dict | None = None):
        cmd = [sys.executable, "-m", "tthc.cli", "sources", "serve", "--data", str(data_dir), "--faults", faults]
        if now:
            cmd += ["--now", now]
        self.env = {**os.environ, **(env or {})}
        # stderr to a file, not a pipe nobody reads while the server runs (a full pipe would block it)
        self.stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=self.stderr,
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

    def failure(self) -> str:
        """The child's last line on stderr (its one-line `tthc: error: ...`, or a traceback's last line)."""
        self.stderr.seek(0)
        lines = [line.strip() for line in self.stderr.read()[-20_000:].splitlines() if line.strip()]
        last = lines[-1] if lines else "no message"
        return last.removeprefix("tthc: error: ")[:500]

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        urls = list(self.urls.values())
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TthcError(f"sources server exited ({self.proc.returncode}): {self.failure()}")
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
        self.stderr.close()

    def __enter__(self):
        self.wait_ready()
        return self

    def __exit__(self, *exc):
        self.stop()
