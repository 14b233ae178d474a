"""The loader's fast contract check (msgspec) gives exactly the reference rules' verdict."""

from __future__ import annotations

import copy

import orjson
import pytest
from tthc.extract.client import parse_json
from tthc.load.entities import ALL_ENTITIES, ENTITIES, MAX_TEXT, Invalid, Validator, validate
from tthc.sources.store import open_store


def verdict(check, rec):
    try:
        return ("valid", check(rec))
    except Invalid as err:
        return ("invalid", err.reason, err.detail)


def both(entity, rec, procedures=None):
    try:
        canonical = orjson.dumps(rec, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        canonical = None
    fast = verdict(lambda r: Validator(entity, procedures)(r, canonical), rec)
    reference = verdict(lambda r: validate(entity, r, procedures), rec)
    return fast, reference


def store_records(sim_dir, entity):
    with open_store(sim_dir, entity.source) as db:
        return [parse_json(p) for (p,) in db.execute(f"SELECT payload FROM {entity.name}")]


@pytest.mark.parametrize("name", [e for e in ENTITIES])
def test_fast_check_agrees_on_every_simulated_record(sim_dir, name):
    entity = ENTITIES[name]
    procedures = frozenset(r["MaTTHC"] for r in store_records(sim_dir, ENTITIES["procedures"])
                           if isinstance(r, dict) and isinstance(r.get("MaTTHC"), str))
    records = store_records(sim_dir, entity)
    assert records
    reasons = set()
    for rec in records:
        fast, reference = both(entity, rec, procedures)
        assert fast == reference, rec
        if fast[0] == "invalid":
            reasons.add(fast[1])
    if name == "dossiers":  # the every-kind profile puts its bad records in the dossier feed
        assert {"missing_required_field", "wrong_type", "unsafe_text", "impossible_date"} <= reasons


EDGE_VALUES = [None, True, False, 0, -1, 1.5, "", "x" * MAX_TEXT, "x" * (MAX_TEXT + 1), "𝔸" * MAX_TEXT,
               "𝔸" * (MAX_TEXT + 1), "a\x00b", "\\u0000", "\ud800", "2025-03-03", "20250303", "2025-02-30",
               "2025-03-03T08:00:00", "2025-03-03T08:00:00+07:00", "2025-03-03T08:00:00Z", "2025-03-03 08:00:00+07",
               "2025-03-03T08:00:00.123456789+07:00", {}, {"k": "\x00"}, {"k": "\ud800"}, [], ["a"], 2**70]


def good_record(entity):
    """A record of the entity that passes every rule, built from its field types."""
    value = {"str": "MA-1", "int": 1, "ts": "2025-03-03T08:00:00+07:00", "date": "2025-03-03", "bool": True,
             "obj": {}, "list": []}
    rec = {name: value[kind] for name, (kind, _) in entity.fields.items()}
    for name in ("SoGiayToChuHoSo",):
        if name in rec:
            rec[name] = "040095000123"
    for name in ("TrangThaiHoSo", "KenhThucHien", "LoaiDoiTuong"):
        if name in rec:
            rec[name] = 1
    return rec


@pytest.mark.parametrize("entity", ALL_ENTITIES, ids=lambda e: e.name)
def test_fast_check_agrees_on_edge_cases(entity):
    base = good_record(entity)
    assert both(entity, base)[1][0] == "valid"
    cases = [base, [base], "text", None, {**base, "Unexpected": 1}, {}]
    for name in entity.fields:
        for value in EDGE_VALUES:
            rec = copy.deepcopy(base)
            rec[name] = value
            cases.append(rec)
        cases.append({k: v for k, v in base.items() if k != name})
    for rec in cases:
        fast, reference = both(entity, rec)
        assert fast == reference, rec
