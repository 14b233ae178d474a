"""The driver: one province's systems, day by day, into three stores and ``truth.json``.

Everything derives from the seed: one ``random.Random`` for the catalogue, one for the outages and one
per simulated day, so the output is byte-identical for a seed. Days are generated one at a time and
flushed to the stores. A dossier's whole life is drawn when it is filed; what the systems would record
after the end of the period is not written (the stores hold the systems as they stand at its end),
and the truth is computed from exactly what is written.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from itertools import accumulate
from pathlib import Path

import orjson

from tthc.calendar import TZ, add_working_days, is_working_day
from tthc.sources.sim import lifecycle, truth
from tthc.sources.sim.catalogue import build_catalogue, catalogue_records
from tthc.sources.sim.common import dumps, iso, office_after, office_at, to_us, whole
from tthc.sources.sim.faults import (
    BAD_KINDS,
    FEED_SOURCES,
    PROFILES,
    FaultProfile,
    bad_record,
    schedule_outages,
    write_faults_file,
)
from tthc.sources.sim.lifecycle import TRANSFER_AT, Event
from tthc.sources.sim.people import People, population_record
from tthc.sources.sim.portal import MISMATCH_FIELDS, draw_pushes, mismatched, petition, rating_level
from tthc.sources.store import SOURCES, StoreWriter, open_store

ONLINE_SHARE = {2023: 0.50, 2024: 0.62, 2025: 0.7235, 2026: 0.78, 2027: 0.82}  # online / received (766)
ONLINE_AFFINITY = {"full": 0.85, "partial": 0.7, "none": 0.0}  # how readily a procedure is filed online
FILING_HOURS = [1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 9, 6, 7, 9, 10, 9, 8, 7, 6, 5, 4, 3, 2]  # online, by hour
PORTAL_APPLICATION = 0.35  # share of online dossiers filed on the national portal (the rest: provincial)
VNEID_CITIZENS, VNEID_ORGANISATIONS = dt.date(2024, 7, 1), dt.date(2025, 7, 1)
PETITIONS_PER_DOSSIER = 1 / 300
G7_HORIZON = 45  # days after which no change can reach an agency-day's counts any more


class Simulator:
    def __init__(self, seed: int, start: dt.date, days: int, dossiers_per_year: int, faults: FaultProfile,
                 province: str, out: Path, params: truth.Params | None = None):
        self.seed, self.start, self.days, self.k = seed, start, days, dossiers_per_year
        self.faults, self.province, self.out = faults, province, Path(out)
        self.params = params or truth.Params()
        self.period_start = dt.datetime.combine(start, dt.time(0), TZ)
        self.end = self.period_start + dt.timedelta(days=days)
        self.cat = build_catalogue(random.Random(f"{seed}:catalogue:{province}"), province)
        self.people = People(province)
        self.truth = truth.Truth(self.end, params)
        self.outages = schedule_outages(faults, random.Random(f"{seed}:outages:{province}"), start, days)
        self.bad: list[dict] = []
        self.counters = {"dossiers": 0, "status_changes": 0, "sync_records": 0, "applications": 0, "payments": 0,
                         "ratings": 0, "petitions": 0}
        self.daily_seq: dict[tuple[str, dt.date], int] = {}
        self.g7: dict[tuple[str, dt.date], tuple[list, list]] = {}
        procs, weights = self.cat.procedures, self.cat.proc_weights
        self.cum_online = list(accumulate(w * ONLINE_AFFINITY[p["online"]] for p, w in zip(procs, weights, strict=True)))
        self.cum_office = list(accumulate(w * (1 - ONLINE_AFFINITY[p["online"]])
                                          for p, w in zip(procs, weights, strict=True)))
        self.agency_unit = {a.code: a.unit for a in self.cat.agencies}

    # --- one dossier ---------------------------------------------------------------------------------
    def _dossier(self, rng: random.Random, day: dt.date, online: bool, hoso_id: int, w: dict[str, StoreWriter]
                 ) -> None:
        cat, f, end, p = self.cat, self.faults, self.end, self.params
        proc = rng.choices(cat.procedures, cum_weights=self.cum_online if online else self.cum_office)[0]
        desk = cat.desk(rng, proc, day)
        if online:
            hour = rng.choices(range(24), FILING_HOURS)[0]
            filed = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), TZ)
            received = office_after(filed, rng.uniform(10, 300))
            channel = 2
        else:
            filed = office_at(dt.datetime.combine(day, dt.time(7, 30), TZ) + dt.timedelta(seconds=rng.randrange(34200)))
            if filed.date() != day:
                return
            received = filed
            channel = 3 if rng.random() < 0.03 else 1
        if filed >= end:
            return
        due = whole(add_working_days(received, proc["days"]))
        seq_key = (desk.code, day)  # codes are given when the one-stop first registers the dossier
        self.daily_seq[seq_key] = self.daily_seq.get(seq_key, 0) + 1
        code = f"{desk.code}-{day:%y%m%d}-{self.daily_seq[seq_key]:04d}"

        applicant, fresh = self.people.applicant(rng, day)
        citizen = applicant["type"] == 1
        tamper = None
        if citizen:
            if fresh and rng.random() < f.identity_problem:
                tamper = rng.choice(["unknown", "mismatch"])
                self.people.forget(applicant)  # never reused: its gap belongs to this dossier only
            record = population_record(applicant, tamper)
            if record:
                w["population"].add_citizen(applicant["pid"], applicant["legacy"], dumps(record))
        applicant_id = applicant["legacy"] if citizen and applicant["legacy"] and day.year < 2025 else applicant["pid"]

        if online and rng.random() < 0.005:  # withdrawn by the citizen before the desk received it
            t = office_after(filed, rng.uniform(10, 300))
            events = [Event(7, t, desk.code), Event(8, office_after(t, rng.uniform(30, 480)), desk.code)]
            info: dict = {"apology": None, "late": False, "e_result": False}
        else:
            events, info = lifecycle.draw(rng, received, due, proc, desk, day)
        if online:
            events.insert(0, Event(1, filed, desk.code))
        if desk.code in cat.successor and events[-1].at >= TRANSFER_AT:
            events = lifecycle.transfer(events, cat.successor[desk.code].code)
        lifecycle.record(rng, events)
        events = [e for e in events if e.recorded < end]
        if not events:
            return
        self.counters["dossiers"] += 1
        received_ever = any(e.status in (2, 3) for e in events)

        rate = desk.rate
        proxy = online and citizen and rng.random() < rate("proxy", day)
        vneid = False
        if online and not proxy:
            if day >= (VNEID_CITIZENS if citizen else VNEID_ORGANISATIONS):
                vneid = rng.random() >= rate("not_vneid", day)
            elif citizen:
                vneid = rng.random() < 0.4
        full_process = online and proc["online"] == "full" and not proxy and rng.random() < rate("full_process", day)
        paid = 0
        if proc["fee"] and proc["payment_integrated"] and online and (full_process or
                                                                      rng.random() < rate("online_paid", day)):
            paid = 1 if rng.random() < 0.4 else 2
        e_result = info.get("e_result", False)
        base = {
            "HoSoID": hoso_id, "MaHoSo": code, "MaTTHC": proc["code"], "TenTTHC": proc["name"],
            "MaLinhVuc": proc["field"], "DonViXuLy": desk.code, "MaDonViHanhChinh": desk.unit,
            "KenhThucHien": channel, "LoaiDoiTuong": applicant["type"], "ChuHoSo": applicant["name"],
            "SoGiayToChuHoSo": applicant_id, "SoDienThoaiChuHoSo": applicant["phone"],
            "NgayNopHoSo": iso(filed), "NgayTiepNhan": iso(received) if received_ever else None,
            "NgayHenTra": iso(due), "LePhi": proc["fee"], "DuocThanhToanTrucTuyen": paid,
            "HoSoCoThanhPhanSoHoa": int(full_process or rng.random() < rate("digitised", day)),
            "CoKetQuaDienTu": 0, "DuocTaiSuDungDuLieu": int(rng.random() < rate("reuse", day)),
            "DuocLayTuKhoDMQG": int(rng.random() < rate("data_store", day)),
            "DuocChungThucDienTu": int(proc["field"] == "Chứng thực" and rng.random() < rate("e_copy", day)),
            "HoSoToanTrinh": int(full_process), "TaiKhoanDuocXacThucVoiVNeID": int(vneid),
            "MaCSDL": "CSDLQGDC" if citizen and rng.random() < rate("population_lookup", day) else None,
            "NopThayCongDan": int(proxy),
        }
        qt = [f"{hoso_id}-{n + 1:02d}" for n in range(len(events))]

        # one-stop: a status change and a dossier version per change (plus one for an apology letter)
        versions: list[tuple[dt.datetime, dict]] = []
        finish_at, resolved = None, False
        for n, e in enumerate(events):
            w["onestop"].add("status_changes", qt[n], to_us(e.recorded), dumps({
                "MaQuaTrinh": qt[n], "HoSoID": hoso_id, "MaHoSo": code, "TrangThaiHoSo": e.status,
                "ThoiGian": iso(e.at), "DonViXuLy": e.agency, "GhiChu": e.note, "NgayCapNhat": iso(e.recorded)}))
            self.counters["status_changes"] += 1
            if e.status in (3, 8, 9, 10) and finish_at is None:
                finish_at = e.at
            resolved = resolved or e.status in (9, 10)
            versions.append((e.recorded, {"TrangThaiHoSo": e.status, "NgayKetThucXuLy": iso(finish_at),
                                          "DonViXuLy": e.agency, "MaDonViHanhChinh": self.agency_unit[e.agency],
                                          "CoKetQuaDienTu": int(e_result and resolved)}))
        apology = info["apology"]
        if apology and events[0].recorded < apology["at"] < end:
            state = next(v for t, v in reversed(versions) if t <= apology["at"])
            versions.append((apology["at"], {**state, "PhieuXinLoi": {
                "LyDo": apology["reason"], "NgayHenTraMoi": iso(apology["new_due"]),
                "NgayXinLoi": iso(apology["at"])}}))
            versions.sort(key=lambda v: v[0])
        letter = None
        payload, recorded = {}, events[0].recorded
        for n, (recorded, changes) in enumerate(versions):
            letter = changes.get("PhieuXinLoi", letter)
            payload = {**base, **changes, "PhieuXinLoi": letter, "PhienBan": n + 1, "NgayCapNhat": iso(recorded)}
            if payload["TrangThaiHoSo"] == 1:
                payload["NgayTiepNhan"] = None
            w["onestop"].add("dossiers", code, to_us(recorded), dumps(payload))
        if f.bad_record and rng.random() < f.bad_record:
            self._bad_record(payload, recorded, code, hoso_id, w["onestop"])
        if tamper:
            self.truth.add("G6", code, [(events[0].recorded, None)], code, events[-1].agency, {"problem": tamper})

        # portal: status pushes, the online application, payment, rating
        receipt_n = next((n for n, e in enumerate(events) if e.status == 2), None)
        receipt = events[receipt_n] if receipt_n is not None else None
        pushes, _ = draw_pushes(rng, events, f, receipt.recorded if receipt else None, p.missing_after_minutes)
        mismatch = rng.choice(MISMATCH_FIELDS) if rng.random() < f.field_mismatch else None
        visible = [x for x in pushes if x.applied < end]
        for x in visible:
            e = events[x.event_index]
            rec = {"MaDongBo": f"DB-{hoso_id}-{x.event_index + 1:02d}" + ("-R" if x.repeat else ""),
                   "MaQuaTrinh": qt[x.event_index], "MaHoSo": code, "TrangThaiHoSo": e.status,
                   "ThoiGianThayDoi": iso(e.at), "NgayDongBo": iso(x.synced), "MaTTHC": base["MaTTHC"],
                   "NgayHenTra": base["NgayHenTra"], "KenhThucHien": base["KenhThucHien"],
                   "SoGiayToChuHoSo": base["SoGiayToChuHoSo"], "DonViXuLy": e.agency, "NgayCapNhat": iso(x.applied)}
            if mismatch:
                rec[mismatch] = mismatched(mismatch, rec[mismatch])
            w["portal"].add("sync_records", rec["MaDongBo"], to_us(x.applied), dumps(rec))
            self.counters["sync_records"] += 1
        self._sync_truth(code, events, qt, visible, mismatch, receipt)
        if receipt is not None:
            day_key = (receipt.agency, receipt.at.astimezone(TZ).date())
            receipts, syncs = self.g7.setdefault(day_key, ([], []))
            receipts.append(receipt.recorded)
            first = next((x.synced for x in visible if x.event_index == receipt_n), None)
            if first is not None:
                syncs.append(first)

        if online and rng.random() < PORTAL_APPLICATION:
            self._application(f"DVC-{hoso_id}", filed, code, proc, applicant, applicant_id, desk.code, events, w)
        if online and rng.random() < f.orphan_application:
            orphan_filed = filed + dt.timedelta(seconds=rng.randint(60, 36000))
            if orphan_filed < end:
                self._application(f"DVC-{hoso_id}-X", orphan_filed, None, proc, applicant, applicant_id, desk.code,
                                  [], w)
        if paid:
            pay_at = filed + dt.timedelta(seconds=rng.randint(60, 1800))
            pay_recorded = pay_at if paid == 1 else pay_at + dt.timedelta(seconds=rng.randint(300, 3600))
            if pay_recorded < end:
                w["portal"].add("payments", f"GD-{hoso_id}", to_us(pay_recorded), dumps({
                    "MaGiaoDich": f"GD-{hoso_id}", "MaHoSo": code, "SoTien": proc["fee"], "KenhThanhToan": paid,
                    "NgayThanhToan": iso(pay_at), "NgayCapNhat": iso(pay_recorded)}))
                self.counters["payments"] += 1
        done = next((e for e in events if e.status == 10), None)
        if done and rng.random() < rate("rated", day):
            rated = done.at + dt.timedelta(seconds=rng.randint(1800, 48 * 3600))
            if rated < end:
                w["portal"].add("ratings", f"DG-{hoso_id}", to_us(rated), dumps({
                    "MaDanhGia": f"DG-{hoso_id}", "MaHoSo": code, "MucDoHaiLong": rating_level(rng, info["late"]),
                    "NgayDanhGia": iso(rated), "NgayCapNhat": iso(rated)}))
                self.counters["ratings"] += 1

    def _sync_truth(self, code: str, events: list[Event], qt: list[str], visible: list, mismatch: str | None,
                    receipt: Event | None) -> None:
        """G1, G2, G3 and G5 of one dossier, from its timelines as the sources serve them."""
        p, t = self.params, self.truth
        agency = events[-1].agency
        first_sync = min((x.synced for x in visible), default=None)
        t.add("G1", code, truth.g1_missing(receipt.recorded if receipt else None, first_sync, p), code, agency)
        onestop = [(e.recorded, qt[n], e.status) for n, e in enumerate(events) if e.status != 1]
        portal = [(x.synced, qt[x.event_index], x.status) for x in visible]
        t.add("G2", code, truth.g2_stale(onestop, portal, p, self.end), code, agency)
        first_push: dict[int, dt.datetime] = {}
        for x in visible:
            first_push[x.event_index] = min(first_push.get(x.event_index, x.synced), x.synced)
        for n, synced in sorted(first_push.items()):
            t.add("G3", code, truth.g3_late(events[n].recorded, synced, p), code, events[n].agency,
                  {"status": events[n].status, "change": qt[n]})
        if mismatch:
            t.add("G5", code, truth.g5_mismatch([(x.synced, True) for x in visible]), code, agency,
                  {"field": mismatch})

    def _application(self, app_id: str, filed: dt.datetime, code: str | None, proc: dict, applicant: dict,
                     applicant_id: str, desk: str, events: list[Event], w: dict[str, StoreWriter]) -> None:
        """A portal application, linked to the one-stop dossier once the one-stop first handles it."""
        rec = {"MaHoSoDVC": app_id, "MaHoSo": None, "MaTTHC": proc["code"], "NgayNop": iso(filed),
               "ChuHoSo": applicant["name"], "SoGiayToChuHoSo": applicant_id, "DonViTiepNhan": desk}
        w["portal"].add("online_applications", app_id, to_us(filed), dumps({**rec, "NgayCapNhat": iso(filed)}))
        handled = next((e for e in events if e.status != 1), None)
        if handled is not None:
            w["portal"].add("online_applications", app_id, to_us(handled.recorded),
                            dumps({**rec, "MaHoSo": code, "NgayCapNhat": iso(handled.recorded)}))
        self.counters["applications"] += 1
        self.truth.add("G4", app_id, truth.g4_orphan(filed, handled.recorded if handled else None, self.params),
                       code, desk)

    def _bad_record(self, payload: dict, recorded: dt.datetime, code: str, hoso_id: int, w: StoreWriter) -> None:
        kind = BAD_KINDS[len(self.bad) % len(BAD_KINDS)]
        recorded = recorded + dt.timedelta(seconds=1)
        if recorded >= self.end:
            return
        key, text = bad_record(kind, {**payload, "NgayCapNhat": iso(recorded)}, code, hoso_id)
        w.add("dossiers", key, to_us(recorded), text)
        self.bad.append({"source": "onestop", "entity": "dossiers", "kind": kind, "dossier_code": code, "key": key,
                         "recorded_at": iso(recorded)})

    def _petitions(self, rng: random.Random, day: dt.date, w: StoreWriter) -> None:
        n = _count(rng, self.k * PETITIONS_PER_DOSSIER / 365)
        for seq in range(1, n + 1):
            proc = rng.choices(self.cat.procedures, cum_weights=self.cum_office)[0]
            agency = self.cat.desk(rng, proc, day)
            received = dt.datetime.combine(day, dt.time(rng.choices(range(24), FILING_HOURS)[0], rng.randrange(60),
                                                        rng.randrange(60)), TZ)
            if received >= self.end:
                continue
            number = f"PAKN-{day:%Y%m%d}-{seq:03d}"
            for recorded, rec in petition(rng, number, received, agency, proc["field"], self.end):
                w.add("petitions", number, to_us(recorded), dumps({**rec, "NgayCapNhat": iso(recorded)}))
            self.counters["petitions"] += 1

    # --- driver ----------------------------------------------------------------------------------------
    def _finish_g7(self, before: dt.date | None) -> None:
        for key in sorted(k for k in self.g7 if before is None or k[1] < before):
            receipts, syncs = self.g7.pop(key)
            agency, day = key
            self.truth.add("G7", f"{agency}|{day.isoformat()}", truth.g7_drift(day, receipts, syncs, self.params),
                           None, agency, {"receipts": len(receipts)})

    def _finish_g8(self) -> None:
        for source in FEED_SOURCES:
            spans = [(o["start"], o["end"]) for o in self.outages if o["source"] == source]
            with open_store(self.out, source) as db:
                union = " UNION ALL ".join(f"SELECT changed_us FROM {e}" for e in SOURCES[source])
                rows = (us for (us,) in db.execute(f"SELECT changed_us FROM ({union}) ORDER BY 1"))
                self.truth.add("G8", source, truth.g8_stale(rows, spans, self.params, self.period_start))

    def run(self, progress=None) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        w = {source: StoreWriter(self.out, source) for source in SOURCES}
        for entity, key, recorded, rec in catalogue_records(self.cat):
            if recorded < self.end:
                w["onestop"].add(entity, key, to_us(recorded), dumps({**rec, "NgayCapNhat": iso(recorded)}))
        working = {}
        for offset in range(self.days):
            day = self.start + dt.timedelta(days=offset)
            if day.year not in working:
                year_days = (dt.date(day.year + 1, 1, 1) - dt.date(day.year, 1, 1)).days
                working[day.year] = sum(is_working_day(dt.date(day.year, 1, 1) + dt.timedelta(d))
                                        for d in range(year_days))
            rng = random.Random(f"{self.seed}:day:{day.isoformat()}")
            share = ONLINE_SHARE.get(day.year, 0.72)
            n_online = _count(rng, self.k * share / 365)
            n_office = _count(rng, self.k * (1 - share) / working[day.year]) if is_working_day(day) else 0
            kinds = [True] * n_online + [False] * n_office
            rng.shuffle(kinds)
            for seq, online in enumerate(kinds, start=1):
                self._dossier(rng, day, online, int(day.strftime("%Y%m%d")) * 10_000 + seq, w)
            self._petitions(rng, day, w["portal"])
            for writer in w.values():
                writer.flush()
            self.daily_seq.clear()
            self._finish_g7(day - dt.timedelta(days=G7_HORIZON))
            if progress:
                progress(offset + 1)
        counts = {source: writer.close() for source, writer in w.items()}
        self._finish_g7(None)
        self._finish_g8()
        write_faults_file(self.out, self.outages)
        result = self.result(counts)
        (self.out / "truth.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        return result

    def result(self, counts: dict) -> dict:
        bad_by_kind: dict[str, int] = {}
        for b in self.bad:
            bad_by_kind[b["kind"]] = bad_by_kind.get(b["kind"], 0) + 1
        gaps = sorted(self.truth.gaps, key=lambda g: (g["code"], g["opened_at"], g["key"]))
        return {
            "seed": self.seed, "province": self.province, "start": self.start.isoformat(), "days": self.days,
            "dossiers_per_year": self.k, "faults": self.faults.name,
            "period": {"start": iso(self.period_start), "end": iso(self.end)},
            "parameters": self.params.as_dict(),
            "definitions": {c: r.definition for c, r in truth.RULES.items()},
            "clocks": {c: r.clock for c, r in truth.RULES.items()},
            "keys": {c: r.key for c, r in truth.RULES.items()},
            "outages": [{**o, "start": iso(o["start"]), "end": iso(o["end"])} for o in self.outages],
            "counts": {**self.counters, "records": counts},
            "gap_counts": self.truth.counts(),
            "bad_record_counts": dict(sorted(bad_by_kind.items())),
            "gaps": gaps,
            "bad_records": self.bad,
        }


def _count(rng: random.Random, mean: float) -> int:
    """A day's count around its mean (normal approximation of a Poisson draw)."""
    return max(0, round(rng.gauss(mean, math.sqrt(mean)))) if mean > 0 else 0


def simulate(seed: int, start: dt.date, days: int, out: Path, dossiers_per_year: int = 500_000,
             faults: str = "default", province: str = "40", progress=None, params: truth.Params | None = None) -> dict:
    if faults not in PROFILES:
        raise ValueError(f"unknown fault profile {faults!r} (known: {', '.join(PROFILES)})")
    for offset in (0, days):
        is_working_day(start + dt.timedelta(days=offset))  # raises outside the known calendar
    sim = Simulator(seed, start, days, dossiers_per_year, PROFILES[faults], province, out, params or truth.Params())
    return sim.run(progress)
