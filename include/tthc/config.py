"""All configuration in one place: environment variables with documented defaults.

Used by the CLI, the DAGs and the tests. Nothing here is hard-wired to one province: the default
province (Nghe An, code 40) is only a default. Secrets (role passwords, API keys, the HMAC key that
pseudonymises applicants) come from the environment; for the embedded default they may be generated
once and kept in ``$TTHC_HOME/secrets.json`` (git-ignored, mode 0600), never in the repo.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import quote, urlsplit

from tthc import TthcError
from tthc import provinces as provinces_mod

DEFAULT_PAGE_SIZE = 2000  # records per source API page

# name -> (default, description); the README's configuration table is generated from this.
SETTINGS: dict[str, tuple[str, str]] = {
    "TTHC_HOME": (".tthc", "state directory: embedded PostgreSQL data, generated secrets, source stores"),
    "TTHC_WAREHOUSE_DSN": ("", "use this PostgreSQL (superuser or owner DSN) instead of the embedded one"),
    "TTHC_WAREHOUSE_PORT": ("0", "loopback port of the embedded server; 0 picks a free port once and keeps it"),
    "TTHC_WAREHOUSE_DB": ("tthc", "database name of the embedded warehouse"),
    "TTHC_PROVINCE": ("40", "statistics-office province code (40 = Nghe An; one of the 63, tthc/provinces.py)"),
    "TTHC_PROVINCES": ("", "the provinces one warehouse loads, comma-separated (unset: TTHC_PROVINCE); each province's "
                       "sources: TTHC_ONESTOP_URL_<code> etc., else the unsuffixed URL"),
    "TTHC_LOADER_PASSWORD": ("(generated)", "password of role tthc_loader"),
    "TTHC_TRANSFORMER_PASSWORD": ("(generated)", "password of role tthc_transformer"),
    "TTHC_BI_PASSWORD": ("(generated)", "password of role tthc_bi"),
    "TTHC_INSPECTOR_PASSWORD": ("(generated)", "password of role tthc_inspector"),
    "TTHC_SUPERUSER_PASSWORD": ("(generated)", "password of the embedded server's superuser (postgres)"),
    "TTHC_AIRFLOW_JWT_SECRET": ("(generated)", "signing key of the local Airflow API's tokens (64 characters)"),
    "TTHC_PII_KEY": ("(generated)", "HMAC key that pseudonymises personal ID numbers outside raw_*"),
    "TTHC_API_KEY": ("(generated)", "X-API-Key shared by the three local source APIs"),
    "TTHC_ONESTOP_URL": ("http://127.0.0.1:8601", "one-stop system API"),
    "TTHC_POPULATION_URL": ("http://127.0.0.1:8602", "national population database API (mock)"),
    "TTHC_PORTAL_URL": ("http://127.0.0.1:8603", "national public service portal API"),
    "TTHC_PAGE_SIZE": (str(DEFAULT_PAGE_SIZE), "records per source API page (1-5000; in Airflow: the connection extra page_size)"),
    "TTHC_SYNC_SLA_MINUTES": ("60", "G2/G3: a status must reach the portal within this"),
    "TTHC_MISSING_AFTER_HOURS": ("24", "G1/G4/G7: missing for this many office hours (working-day calendar) is a gap"),
    "TTHC_STALE_AFTER_MINUTES": ("120", "G8: a source serving nothing newer for this many office minutes is stale"),
    "TTHC_CATCH_UP_DAYS": ("3", "how far back each hourly extract run rereads what no read has confirmed (hours that "
                           "failed, never ran, or were read before the source showed anything newer); 0 turns it off"),
    "TTHC_SOURCE_MAX_SECONDS": ("600", "a load's budget for retrying a source that answers 429/5xx or times out "
                                "(in Airflow: the connection extra max_seconds)"),
    "TTHC_TASK_RETRY_SECONDS": ("120", "Airflow: the first retry of a failed task after this many seconds (then "
                                "doubling, 3 retries)"),
    "TTHC_REPORT_DIR": ("", "where the inspector_report DAG writes <day>/index.html and CSVs (unset: $TTHC_HOME/reports)"),
}

ROLES = ("tthc_loader", "tthc_transformer", "tthc_bi", "tthc_inspector")


def env(name: str) -> str:
    default = SETTINGS[name][0]
    value = os.environ.get(name, "")
    return value if value else ("" if default.startswith("(") else default)


def _int_env(name: str) -> int:
    raw = env(name)
    try:
        return int(raw)
    except ValueError:
        raise TthcError(f"{name} must be a whole number, got {raw!r}") from None


def _bounded_env(name: str, lowest: int, highest: int) -> int:
    value = _int_env(name)
    if not lowest <= value <= highest:
        raise TthcError(f"{name} must be between {lowest} and {highest}, got {value}")
    return value


@dataclass(frozen=True, repr=False)
class Settings:
    home: Path
    warehouse_dsn: str  # empty: the embedded server
    warehouse_port: int
    warehouse_db: str
    province: str  # the first (default) province
    onestop_url: str
    population_url: str
    portal_url: str
    sync_sla_minutes: int
    missing_after_hours: int
    stale_after_minutes: int = 120
    catch_up_days: int = 3
    source_max_seconds: int = 600
    page_size: int = DEFAULT_PAGE_SIZE
    provinces: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.provinces:
            object.__setattr__(self, "provinces", (self.province,))

    def __repr__(self) -> str:  # the DSN may hold a password: never in a repr, a log line or a traceback
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["warehouse_dsn"] = redact(self.warehouse_dsn)
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in values.items())})"

    def source_urls(self, province: str | None = None) -> dict[str, str]:
        """The three source APIs of one province: ``TTHC_<SOURCE>_URL_<code>``, else the unsuffixed
        setting (the national population database is one service for every province)."""
        base = {"onestop": self.onestop_url, "population": self.population_url, "portal": self.portal_url}
        if province is None or province == self.province:
            return base
        return {source: os.environ.get(f"TTHC_{source.upper()}_URL_{province}") or url for source, url in base.items()}

    @property
    def embedded(self) -> bool:
        return not self.warehouse_dsn

    def secret(self, env_name: str, nbytes: int = 24) -> str:
        """A secret from the environment, else generated once (``nbytes`` random bytes, URL-safe) and kept
        in $TTHC_HOME/secrets.json (mode 0600 from its first byte; see ``write_private``)."""
        value = os.environ.get(env_name, "")
        if value:
            return value
        path = self.home / "secrets.json"
        if path.exists() and not path.stat().st_mode & 0o077:  # the common case: generated before, no lock
            stored = json.loads(path.read_text())
            if env_name in stored:
                return stored[env_name]
        with self._secrets_locked() as stored:
            loose = path.exists() and path.stat().st_mode & 0o077  # written 0644 by an older version: rewritten
            if env_name not in stored or loose:
                stored.setdefault(env_name, secrets.token_urlsafe(nbytes))
                write_private(path, json.dumps(stored, indent=1).encode())
            return stored[env_name]

    def discard_secret(self, env_name: str) -> bool:
        """Drop a generated secret from $TTHC_HOME/secrets.json again (e.g. the password of a login whose
        creation failed, so that no password of a login that does not exist stays on disk). True if it was
        there. A value set in the environment is not ours to drop and is left alone."""
        path = self.home / "secrets.json"
        if not path.exists():
            return False
        with self._secrets_locked() as stored:
            if env_name not in stored:
                return False
            del stored[env_name]
            write_private(path, json.dumps(stored, indent=1).encode())
            return True

    @contextmanager
    def _secrets_locked(self):
        """secrets.json's content, read under an exclusive lock (``.secrets.lock``): two processes generating
        secrets at once (parallel tasks) do not lose each other's."""
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.home / ".secrets.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            path = self.home / "secrets.json"
            yield json.loads(path.read_text()) if path.exists() else {}
        finally:
            os.close(fd)  # releases the lock

    def role_password(self, role: str) -> str:
        return self.secret(f"TTHC_{role.removeprefix('tthc_').upper()}_PASSWORD")

    @property
    def api_key(self) -> str:
        return self.secret("TTHC_API_KEY")

    @property
    def pii_key(self) -> bytes:
        return self.secret("TTHC_PII_KEY").encode()


def province_codes(text: str, setting: str = "TTHC_PROVINCES") -> tuple[str, ...]:
    """``40,38`` -> ("40", "38"): province codes, each once, in the order given (``tthc.provinces.parse_codes``)."""
    return provinces_mod.parse_codes(text, setting)


def load() -> Settings:
    """The settings from the environment, checked before anything connects: province codes, the warehouse
    DSN and the source URLs (a wrong one is refused here with one line naming the variable)."""
    province = provinces_mod.check_code(env("TTHC_PROVINCE"), "TTHC_PROVINCE")
    provinces = province_codes(env("TTHC_PROVINCES")) if env("TTHC_PROVINCES") else (province,)
    province = provinces[0]
    if env("TTHC_WAREHOUSE_DSN"):
        check_dsn(env("TTHC_WAREHOUSE_DSN"))
    for name in (*SOURCE_URL_SETTINGS, *sorted(n for n in os.environ if SOURCE_URL.fullmatch(n))):
        value = env(name) if name in SETTINGS else os.environ[name]
        if value:  # an empty per-province one means the unsuffixed one
            check_url(name, value)
    return Settings(
        home=Path(env("TTHC_HOME")).expanduser().absolute(),
        warehouse_dsn=env("TTHC_WAREHOUSE_DSN"),
        warehouse_port=_int_env("TTHC_WAREHOUSE_PORT"),
        warehouse_db=env("TTHC_WAREHOUSE_DB"),
        province=province,
        onestop_url=env("TTHC_ONESTOP_URL"),
        population_url=env("TTHC_POPULATION_URL"),
        portal_url=env("TTHC_PORTAL_URL"),
        sync_sla_minutes=_int_env("TTHC_SYNC_SLA_MINUTES"),
        missing_after_hours=_int_env("TTHC_MISSING_AFTER_HOURS"),
        stale_after_minutes=_int_env("TTHC_STALE_AFTER_MINUTES"),
        catch_up_days=_bounded_env("TTHC_CATCH_UP_DAYS", 0, 60),
        source_max_seconds=_bounded_env("TTHC_SOURCE_MAX_SECONDS", 1, 86_400),
        page_size=_page_size(),
        provinces=provinces,
    )


SOURCE_URL_SETTINGS = ("TTHC_ONESTOP_URL", "TTHC_POPULATION_URL", "TTHC_PORTAL_URL")
SOURCE_URL = re.compile(r"TTHC_(ONESTOP|POPULATION|PORTAL)_URL_\w+")  # a province's own: TTHC_ONESTOP_URL_38
DSN_FORMS = "a postgresql:// URL, or libpq key=value pairs such as 'host=... port=... dbname=...'"


def check_url(name: str, url: str) -> str:
    """``url`` if it is an http(s) base URL with a host (and a valid port, no query or fragment), else a
    one-line ``TthcError`` naming the variable (its credentials, if any, redacted)."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (parts is None or not port_ok or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.query or parts.fragment or any(c.isspace() or not c.isprintable() for c in url)):
        raise TthcError(f"{name} must be an http(s) URL such as http://127.0.0.1:8601, got {redact(url)!r}")
    return url


def check_dsn(dsn: str, name: str = "TTHC_WAREHOUSE_DSN") -> dict[str, str]:
    """The connection parameters of a PostgreSQL DSN in either form libpq reads (URL or key=value), parsed
    by libpq itself, else a one-line ``TthcError``. Its text is never shown (a password may be anywhere in a
    DSN libpq cannot read), only what is wrong."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    scheme = re.match(r"\s*([A-Za-z][A-Za-z0-9+.-]*)://", dsn)
    if scheme and scheme.group(1) not in ("postgresql", "postgres"):
        raise TthcError(f"{name} must be a PostgreSQL connection string ({DSN_FORMS}): "
                        f"scheme {scheme.group(1)!r} is not postgresql://")
    try:
        params = conninfo_to_dict(dsn)
    except ProgrammingError as err:  # libpq's reason, its quoted fragments (possibly secret) left out
        reason = str(err).strip().splitlines()[0] if str(err).strip() else "unreadable"
        reason = re.sub(r'"[^"]*"', lambda m: m[0] if not re.search(r"[^\W_]", m[0]) else '"…"', reason)
        raise TthcError(f"{name} is not a PostgreSQL connection string ({DSN_FORMS}): {reason}") from None
    for port in (params.get("port") or "").split(","):
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise TthcError(f"{name}: its port is not a port number (1-65535)")
    return {k: str(v) for k, v in params.items()}


# --- redaction: one function for every form a secret takes in a DSN or a message -------------------------
# scheme://user:password@ (the scheme optional: a URL mangled into another string keeps its //user:password@)
_URL_PASSWORD = re.compile(r"(?P<keep>(?:\b[A-Za-z][A-Za-z0-9+.-]*:)?//[^\s:/?#@'\"]*:)[^\s/?#'\"]*(?=@)")
_QUERY_PASSWORD = re.compile(r"(?P<keep>[?&]\w*password=)[^&#\s'\"]*", re.IGNORECASE)
# password=..., sslpassword=..., PGPASSWORD=..., TTHC_LOADER_PASSWORD=... (not a URL's query: above)
_KV_PASSWORD = re.compile(r"(?P<keep>(?<![?&])\b\w*password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|[^\s'\"]+)", re.IGNORECASE)
_JSON_PASSWORD = re.compile(r"(?P<keep>[\"']password[\"']\s*:\s*)(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')",
                            re.IGNORECASE)
MASK = "…"


def redact(text: str, known: set[str] | frozenset[str] = frozenset()) -> str:
    """``text`` without passwords: a DSN (URL ``scheme://user:password@host`` or libpq ``password=...``,
    quoted or not, also as a URL query parameter), a JSON ``"password": "..."``, alone or inside a longer
    text such as an exception's message. ``known``: secret values to mask wherever they appear as well
    (``known_secrets()``: what a driver may echo in a shape none of the patterns knows)."""
    out = _URL_PASSWORD.sub(rf"\g<keep>{MASK}", text)
    out = _QUERY_PASSWORD.sub(rf"\g<keep>{MASK}", out)
    out = _KV_PASSWORD.sub(rf"\g<keep>{MASK}", out)
    out = _JSON_PASSWORD.sub(rf'\g<keep>"{MASK}"', out)
    for value in sorted(known, key=len, reverse=True):
        for form in {value, quote(value, safe="")}:
            if len(form) >= 4:
                out = out.replace(form, MASK)
    return out


def known_secrets() -> frozenset[str]:
    """Every secret this process may hold: the TTHC_* passwords, keys and secrets of the environment, the
    warehouse DSN's password and the generated ones in $TTHC_HOME/secrets.json (for ``redact``)."""
    values = {v for k, v in os.environ.items()
              if k.startswith(("TTHC_", "PG", "AIRFLOW")) and k.endswith(("PASSWORD", "_KEY", "SECRET"))}
    dsn = os.environ.get("TTHC_WAREHOUSE_DSN", "")
    if dsn:
        try:
            from psycopg.conninfo import conninfo_to_dict

            values.add(str(conninfo_to_dict(dsn).get("password") or ""))
        except Exception:  # an unreadable DSN: the patterns still apply
            pass
    try:
        stored = json.loads((Path(env("TTHC_HOME")).expanduser() / "secrets.json").read_text())
        values |= {v for v in stored.values() if isinstance(v, str)}
    except (OSError, ValueError, AttributeError):
        pass
    return frozenset(v for v in values if v)


# --- files only their owner reads --------------------------------------------------------------------------
def create_private(path: Path) -> int:
    """Create ``path`` (which must not exist) with mode 0600 from its first byte (O_CREAT|O_EXCL, no
    symlink followed); return its descriptor, open for writing."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, atomically, readable and writable by its owner only: the bytes go to a
    temporary file created 0600 beside it (``create_private``), which then replaces it. A file that was
    0644 before is 0600 after, and no reader ever sees a partial file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with os.fdopen(create_private(tmp), "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _page_size() -> int:
    size = _int_env("TTHC_PAGE_SIZE")
    if not 1 <= size <= 5000:
        raise TthcError(f"TTHC_PAGE_SIZE must be between 1 and 5000, got {size}")
    return size
