"""The README's reference tables say what the code declares (configuration, 766 indicators, gap rules)."""

from __future__ import annotations

from conftest import ROOT
from tthc.config import SETTINGS
from tthc.kpi766 import INDICATORS
from tthc.sources.sim.truth import RULES

README = (ROOT / "README.md").read_text()


def table_rows(heading: str) -> list[list[str]]:
    section = README.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # past the header and its rule


def test_every_setting_is_documented_with_its_default():
    rows = {r[0].strip("`"): r[1].strip("`") for r in table_rows("## Configuration")}
    for name, (default, _) in SETTINGS.items():
        if name.endswith("_PASSWORD") or name in ("TTHC_ONESTOP_URL", "TTHC_POPULATION_URL", "TTHC_PORTAL_URL"):
            assert name in README, name  # documented in a shared row
            continue
        assert name in rows, name
        shown = {"": "(unset)", "(generated)": "generated"}.get(default, default)
        assert rows[name] == shown, (name, rows[name], shown)


def test_the_766_table_is_the_declared_index():
    """group, code, points and method (document / interpretation / proxy) of every indicator, in order;
    a proxy says it is not in the total, an indicator without points says so."""
    rows = table_rows("### Decision 766: which indicator comes from which field")
    documented = [(r[0], r[1].split()[0], float(r[2].split()[0]), r[3].split()[0]) for r in rows]
    assert documented == [(i.group, i.code, i.points, i.method) for i in INDICATORS]
    for r, i in zip(rows, INDICATORS, strict=True):
        assert ("not in the total" in r[3]) == (i.method == "proxy"), r
        assert ("no points" in r[2]) == (i.points == 0), r
        full = f"full at {i.threshold * 100:g} %" if i.threshold else "full at"
        assert (full in r[1]) == (i.threshold is not None), r


def test_the_gap_table_lists_every_rule():
    rows = table_rows("### Synchronisation gaps: the rules and their clocks")
    assert [r[0] for r in rows] == list(RULES)
