"""Provision Metabase (docker-compose's `metabase-setup`): the admin account and the warehouse as a data
source logged in as the read-only `tthc_bi` — no clicks. Idempotent: a second run finds the database and
stops. Standard library only (runs in python:3.11-slim); every value comes from the environment."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

MB = os.environ.get("MB_URL", "http://metabase:3000")
DATABASE_NAME = "TTHC warehouse (marts, read-only)"


def call(method: str, path: str, body: dict | None = None, session: str | None = None) -> dict:
    request = urllib.request.Request(f"{MB}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json",
                                              **({"X-Metabase-Session": session} if session else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        return json.loads(text) if text else {}


def wait_healthy(deadline_s: float = 600) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if call("GET", "/api/health").get("status") == "ok":
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(5)
    sys.exit("metabase-setup: Metabase did not become healthy")


def warehouse_details() -> dict:
    return {"host": os.environ.get("TTHC_WAREHOUSE_HOST", "postgres"), "port": int(os.environ.get("TTHC_WAREHOUSE_PORT", "5432")),
            "dbname": os.environ.get("TTHC_WAREHOUSE_DB", "tthc"), "user": "tthc_bi",
            "password": os.environ["TTHC_BI_PASSWORD"], "schema-filters-type": "inclusion",
            "schema-filters-patterns": "marts", "ssl": False}


def main() -> None:
    wait_healthy()
    admin = {"email": os.environ["MB_ADMIN_EMAIL"], "password": os.environ["MB_ADMIN_PASSWORD"]}
    properties = call("GET", "/api/session/properties")
    if properties.get("setup-token") and not properties.get("has-user-setup"):
        call("POST", "/api/setup", {
            "token": properties["setup-token"],
            "user": {**admin, "first_name": "TTHC", "last_name": "Admin", "site_name": "TTHC warehouse"},
            "prefs": {"site_name": "TTHC warehouse", "site_locale": "vi", "allow_tracking": False},
            "database": {"engine": "postgres", "name": DATABASE_NAME, "details": warehouse_details()},
        })
        print("metabase-setup: admin created, warehouse connected as tthc_bi (schema marts)")
        return
    session = call("POST", "/api/session", {"username": admin["email"], "password": admin["password"]})["id"]
    databases = call("GET", "/api/database", session=session)
    names = [d["name"] for d in (databases.get("data", databases) if isinstance(databases, dict) else databases)]
    if DATABASE_NAME in names:
        print("metabase-setup: already provisioned")
        return
    call("POST", "/api/database", {"engine": "postgres", "name": DATABASE_NAME, "details": warehouse_details()},
         session=session)
    print("metabase-setup: warehouse connected as tthc_bi (schema marts)")


if __name__ == "__main__":
    main()
