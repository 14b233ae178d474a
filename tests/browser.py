"""Open a page from disk in headless Chromium with Playwright and print, as JSON, what the browser saw:
console errors and page errors, requests that left the disk, the trace count of each plotly chart, the
empty states and the section headings. Usage: python browser.py CHROMIUM PAGE [SCREENSHOT]."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def main(chromium: str, page_path: str, screenshot: str = "") -> dict:
    seen: dict = {"errors": [], "requests": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.goto(Path(page_path).as_uri(), wait_until="load")
            page.wait_for_timeout(500)
            ids = page.eval_on_selector_all("div.js-plotly-plot", "els => els.map(e => e.id)")
            seen["traces"] = {i: page.locator(f"#{i} g.trace").count() for i in ids}
            seen["empty_states"] = page.locator(".empty-state").count()
            seen["headings"] = page.locator("h2").all_inner_texts()
            if screenshot:
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    seen["requests"] = [u for u in seen["requests"] if not u.startswith("file:")]
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
