"""All configuration in one place: environment variables with documented defaults.

Used by the CLI, the DAGs and the tests. Nothing here is hard-wired to one province: the default
province (Nghe An, code 40) is only a default. Secrets (role passwords, API keys, the HMAC key that
pseudonymises applicants) come from the environment; for the embedded default they may be generated
once and kept in ``$TTHC_HOME/secrets.json`` (git-ignored, mode 0600), never in the repo.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from tthc import TthcError

DEFAULT_PAGE_SIZE = 2000  # records per source API page

# name -> (default, description); the README's configuration table is generated from this.
SETTINGS: dict[str, tuple[str, str]] = {
    "TTHC_HOME": (".tthc", "state directory: embedded PostgreSQL data, generated secrets, source stores"),
    "TTHC_WAREHOUSE_DSN": ("", "use this PostgreSQL (superuser or owner DSN) instead of the embedded one"),
    "TTHC_WAREHOUSE_PORT": ("0", "loopback port of the embedded server; 0 picks a free port once and keeps it"),
    "TTHC_WAREHOUSE_DB": ("tthc", "database name of the embedded warehouse"),
    "TTHC_PROVINCE": ("40", "statistics-office province code (40 = Nghe An)"),
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


@dataclass(frozen=True)
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
    page_size: int = DEFAULT_PAGE_SIZE
    provinces: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.provinces:
            object.__setattr__(self, "provinces", (self.province,))

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
        in $TTHC_HOME/secrets.json."""
        value = os.environ.get(env_name, "")
        if value:
            return value
        path = self.home / "secrets.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        if env_name not in stored:
            stored[env_name] = secrets.token_urlsafe(nbytes)
            self.home.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(stored, indent=1))
            tmp.chmod(0o600)
            tmp.replace(path)
        return stored[env_name]

    def role_password(self, role: str) -> str:
        return self.secret(f"TTHC_{role.removeprefix('tthc_').upper()}_PASSWORD")

    @property
    def api_key(self) -> str:
        return self.secret("TTHC_API_KEY")

    @property
    def pii_key(self) -> bytes:
        return self.secret("TTHC_PII_KEY").encode()


def province_codes(text: str, setting: str = "TTHC_PROVINCES") -> tuple[str, ...]:
    """``40,38`` -> ("40", "38"): 2-digit codes, each once, in the order given."""
    codes = tuple(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    bad = [c for c in codes if not (c.isdigit() and len(c) == 2)]
    if bad or not codes:
        raise TthcError(f"{setting} must be 2-digit province codes separated by commas, got {text!r}")
    return codes


def load() -> Settings:
    province = env("TTHC_PROVINCE")
    if not (province.isdigit() and len(province) == 2):
        raise TthcError(f"TTHC_PROVINCE must be a 2-digit province code, got {province!r}")
    provinces = province_codes(env("TTHC_PROVINCES")) if env("TTHC_PROVINCES") else (province,)
    province = provinces[0]
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
        page_size=_page_size(),
        provinces=provinces,
    )


def _page_size() -> int:
    size = _int_env("TTHC_PAGE_SIZE")
    if not 1 <= size <= 5000:
        raise TthcError(f"TTHC_PAGE_SIZE must be between 1 and 5000, got {size}")
    return size
