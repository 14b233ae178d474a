"""The driver: one province's systems, day by day, into three stores and ``truth.json``.

Everything derives from the seed: one ``random.Random`` for the catalogue, one for the outages and one
per simulated day, so the output is byte-identical for a seed. Each dossier's whole life is drawn when
it is filed (``_draw``), whatever the period's end; then what the systems would have recorded by the end
of the period is written (``_write``) and the truth is computed from exactly that. So a longer run of
the same seed extends a shorter one instead of redrawing it, and the stores hold the systems as they
stand at the period's end.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

import orjson

from tthc.calendar import DAY_MINUTES, TZ, add_working_days, is_working_day, office_after, opening
from tthc.config import write_private
from tthc.sources.sim import lifecycle, truth
from tthc.sources.sim.catalogue import Agency, build_catalogue, catalogue_records
from tthc.sources.sim.common import dumps, iso, to_us, whole
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
from tthc.sources.sim.portal import MISMATCH_FIELDS, Push, draw_pushes, mismatched, petition, rating_level
from tthc.sources.store import SOURCES, StoreWriter, open_store

ONLINE_SHARE = {2023: 0.50, 2024: 0.62, 2025: 0.7235, 2026: 0.78, 2027: 0.82}  # online / received (766)
ONLINE_AFFINITY = {"full": 0.85, "partial": 0.7, "none": 0.0}  # how readily a procedure is filed online
FILING_HOURS = [1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 9, 6, 7, 9, 10, 9, 8, 7, 6, 5, 4, 3, 2]  # online, by hour
ONLINE_DAY_WEIGHT = {"working": 1.0, "saturday": 0.5, "sunday": 0.4, "holiday": 0.35}  # online filing by day
PORTAL_APPLICATION = 0.35  # share of online dossiers filed on the national portal (the rest: provincial)
VNEID_CITIZENS, VNEID_ORGANISATIONS = dt.date(2024, 7, 1), dt.date(2025, 7, 1)
PETITIONS_PER_DOSSIER = 1 / 300
G7_HORIZON = 45  # days after which no change can reach an agency-day's counts any more


def _day_kind(day: dt.date) -> str:
    if is_working_day(day):
        return "working"
    return {5: "saturday", 6: "sunday"}.get(day.weekday(), "holiday")


def _count(rng: random.Random, mean: float) -> int:
    """A day's count around its mean (normal approximation of a Poisson draw)."""
    return max(0, round(rng.gauss(mean, math.sqrt(mean)))) if mean > 0 else 0


@dataclass
class Dossier:
    """Everything drawn for one dossier, before the period's end decides what is written."""

    hoso_id: int
    code: str
    proc: dict
    desk: Agency
    online: bool
    filed: dt.datetime
    applicant: dict
    applicant_id: str
    tamper: str | None
    events: list[Event]
    info: dict
    base: dict
    pushes: list[Push]
    mismatch: str | None
    application: bool
    orphan_filed: dt.datetime | None
    payment: tuple[dt.datetime, dt.datetime] | None  # paid at, recorded at
    rating: tuple[dt.datetime, int] | None
    bad_kind: str | None
    qt: list[str] = field(default_factory=list)


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
        self.truth = truth.Truth(self.end, self.params)
        self.outages = schedule_outages(faults, random.Random(f"{seed}:outages:{province}"), start, days)
        self.bad: list[dict] = []
        self.bad_draws = 0
        self.counters = {"dossiers": 0, "status_changes": 0, "sync_records": 0, "applications": 0, "payments": 0,
                         "ratings": 0, "petitions": 0}
        self.daily_seq: dict[str, int] = {}
        self.g7: dict[tuple[str, dt.date], tuple[list, list]] = {}
        procs, weights = self.cat.procedures, self.cat.proc_weights
        self.cum_online = list(accumulate(w * ONLINE_AFFINITY[p["online"]] for p, w in zip(procs, weights, strict=True)))
        self.cum_office = list(accumulate(w * (1 - ONLINE_AFFINITY[p["online"]])
                                          for p, w in zip(procs, weights, strict=True)))
        self.agency_unit = {a.code: a.unit for a in self.cat.agencies}
        self.year_weights: dict[int, tuple[float, int]] = {}

    # --- drawing a dossier (independent of the period's end) ---------------------------------------------
    def _filings(self, rng: random.Random, day: dt.date) -> list[tuple[dt.datetime, bool]]:
        """The day's filings (time, online), in time order: online ones any hour (fewer at weekends and on
        holidays), in-person ones in office hours of working days."""
        year = day.year
        if year not in self.year_weights:
            days = [dt.date(year, 1, 1) + dt.timedelta(d) for d in range((dt.date(year + 1, 1, 1)
                                                                          - dt.date(year, 1, 1)).days)]
            self.year_weights[year] = (sum(ONLINE_DAY_WEIGHT[_day_kind(d)] for d in days),
                                       sum(is_working_day(d) for d in days))
        weight_sum, working_days = self.year_weights[year]
        share = ONLINE_SHARE.get(year, 0.72)
        n_online = _count(rng, self.k * share * ONLINE_DAY_WEIGHT[_day_kind(day)] / weight_sum)
        n_office = _count(rng, self.k * (1 - share) / working_days) if is_working_day(day) else 0
        opens = opening(day)
        filings = []
        for _ in range(n_online):
            hour = rng.choices(range(24), FILING_HOURS)[0]
            filings.append((dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), TZ), True))
        for _ in range(n_office):
            filed = office_after(opens, rng.uniform(0, DAY_MINUTES - 0.1))
            filings.append((filed, False))
        return sorted(filings, key=lambda f: (f[0], not f[1]))

    def _draw(self, rng: random.Random, day: dt.date, filed: dt.datetime, online: bool, hoso_id: int,
              population: StoreWriter) -> Dossier:
        cat, f, p = self.cat, self.faults, self.params
        proc = rng.choices(cat.procedures, cum_weights=self.cum_online if online else self.cum_office)[0]
        desk = cat.desk(rng, proc, day)
        if online:
            received = office_after(filed, rng.uniform(10, 300))
            channel = 2
        else:
            received = filed
            channel = 3 if rng.random() < 0.03 else 1
        due = whole(add_working_days(received, proc["days"]))
        self.daily_seq[desk.code] = self.daily_seq.get(desk.code, 0) + 1  # given when first registered
        code = f"{desk.code}-{day:%y%m%d}-{self.daily_seq[desk.code]:04d}"

        applicant, fresh = self.people.applicant(rng, day)
        citizen = applicant["type"] == 1
        tamper = None
        if citizen:
            if fresh and rng.random() < f.identity_problem:
                tamper = rng.choice(["unknown", "mismatch"])
                self.people.forget(applicant)  # never reused: its gap belongs to this dossier only
            record = population_record(applicant, tamper)
            if record:  # the national population database knows everyone, filed in the period or not
                population.add_citizen(applicant["pid"], applicant["legacy"], dumps(record))
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
        base = {
            "HoSoID": hoso_id, "MaHoSo": code, "MaTTHC": proc["code"], "TenTTHC": proc["name"],
            "MaLinhVuc": proc["field"], "DonViXuLy": desk.code, "MaDonViHanhChinh": desk.unit,
            "KenhThucHien": channel, "LoaiDoiTuong": applicant["type"], "ChuHoSo": applicant["name"],
            "SoGiayToChuHoSo": applicant_id, "SoDienThoaiChuHoSo": applicant["phone"],
            "NgayNopHoSo": iso(filed), "NgayTiepNhan": None, "NgayHenTra": iso(due), "LePhi": proc["fee"],
            "DuocThanhToanTrucTuyen": paid,
            "HoSoCoThanhPhanSoHoa": int(full_process or rng.random() < rate("digitised", day)),
            "CoKetQuaDienTu": 0, "DuocTaiSuDungDuLieu": int(rng.random() < rate("reuse", day)),
            "DuocLayTuKhoDMQG": int(rng.random() < rate("data_store", day)),
            "DuocChungThucDienTu": int(proc["field"] == "Chứng thực" and rng.random() < rate("e_copy", day)),
            "HoSoToanTrinh": int(full_process), "TaiKhoanDuocXacThucVoiVNeID": int(vneid),
            "MaCSDL": "CSDLQGDC" if citizen and rng.random() < rate("population_lookup", day) else None,
            "NopThayCongDan": int(proxy),
        }
        if any(e.status in (2, 3) for e in events):
            base["NgayTiepNhan"] = iso(received)
        bad_kind = None
        if f.bad_record and rng.random() < f.bad_record:
            bad_kind = BAD_KINDS[self.bad_draws % len(BAD_KINDS)]
            self.bad_draws += 1
        receipt = next((e for e in events if e.status == 2), None)
        pushes = draw_pushes(rng, events, f, receipt.recorded if receipt else None, p.missing_after_minutes)
        mismatch = rng.choice(MISMATCH_FIELDS) if rng.random() < f.field_mismatch else None
        application = online and rng.random() < PORTAL_APPLICATION
        orphan = filed + dt.timedelta(seconds=rng.randint(60, 36000)) \
            if online and rng.random() < f.orphan_application else None
        payment = None
        if paid:
            pay_at = filed + dt.timedelta(seconds=rng.randint(60, 1800))
            payment = (pay_at, pay_at if paid == 1 else pay_at + dt.timedelta(seconds=rng.randint(300, 3600)))
        done = next((e for e in events if e.status == 10), None)
        rating = None
        if done and rng.random() < rate("rated", day):
            rating = (done.at + dt.timedelta(seconds=rng.randint(1800, 48 * 3600)), rating_level(rng, info["late"]))
        return Dossier(hoso_id, code, proc, desk, online, filed, applicant, applicant_id, tamper, events, info,
                       base, pushes, mismatch, application, orphan, payment, rating, bad_kind,
                       # MaQuaTrinh: unique across provinces, as the national portal receives it
                       [f"{self.province}-{hoso_id}-{n + 1:02d}" for n in range(len(events))])

    # --- writing what the systems hold by the end of the period ------------------------------------------
    def _write(self, d: Dossier, w: dict[str, StoreWriter]) -> None:
        end = self.end
        events = [e for e in d.events if e.recorded < end]  # recorded in order: a prefix of the life
        if not events:
            return
        self.counters["dossiers"] += 1
        code, qt = d.code, d.qt

        # one-stop: a status change and a dossier version per change (plus one for an apology letter),
        # built over the whole life and written as far as recorded by the end
        versions: list[tuple[dt.datetime, dict]] = []
        finish_at, resolved = None, False
        for n, e in enumerate(d.events):
            if e.recorded < end:
                w["onestop"].add("status_changes", qt[n], to_us(e.recorded), dumps({
                    "MaQuaTrinh": qt[n], "HoSoID": d.hoso_id, "MaHoSo": code, "TrangThaiHoSo": e.status,
                    "ThoiGian": iso(e.at), "DonViXuLy": e.agency, "GhiChu": e.note,
                    "NgayCapNhat": iso(e.recorded)}))
                self.counters["status_changes"] += 1
            if e.status in (3, 8, 9, 10) and finish_at is None:
                finish_at = e.at
            resolved = resolved or e.status in (9, 10)
            versions.append((e.recorded, {"TrangThaiHoSo": e.status, "NgayKetThucXuLy": iso(finish_at),
                                          "DonViXuLy": e.agency, "MaDonViHanhChinh": self.agency_unit[e.agency],
                                          "CoKetQuaDienTu": int(d.info["e_result"] and resolved)}))
        apology = d.info["apology"]
        if apology and d.events[0].recorded < apology["at"]:
            state = next(v for t, v in reversed(versions) if t <= apology["at"])
            versions.append((apology["at"], {**state, "PhieuXinLoi": {
                "LyDo": apology["reason"], "NgayHenTraMoi": iso(apology["new_due"]),
                "NgayXinLoi": iso(apology["at"])}}))
            versions.sort(key=lambda v: v[0])
        letter = None
        first = None
        for n, (recorded, changes) in enumerate(versions):
            letter = changes.get("PhieuXinLoi", letter)
            payload = {**d.base, **changes, "PhieuXinLoi": letter, "PhienBan": n + 1, "NgayCapNhat": iso(recorded)}
            if payload["TrangThaiHoSo"] == 1:
                payload["NgayTiepNhan"] = None
            first = first or (payload, recorded)
            if recorded < end:
                w["onestop"].add("dossiers", code, to_us(recorded), dumps(payload))
        if d.bad_kind:  # a malformed copy of the dossier's first version, a second after it
            self._bad_record(d.bad_kind, *first, code, d.hoso_id, w["onestop"])
        if d.tamper:
            self.truth.add("G6", code, [(events[0].recorded, None)], code, events[-1].agency, {"problem": d.tamper})

        # portal: the pushes it has applied by the end, the online application, payment, rating
        visible = [x for x in d.pushes if x.applied < end]
        for x in visible:
            e = d.events[x.event_index]
            rec = {"MaDongBo": f"DB-{self.province}-{d.hoso_id}-{x.event_index + 1:02d}" + ("-R" if x.repeat else ""),
                   "MaQuaTrinh": qt[x.event_index], "MaHoSo": code, "TrangThaiHoSo": e.status,
                   "ThoiGianThayDoi": iso(e.at), "NgayDongBo": iso(x.synced), "MaTTHC": d.base["MaTTHC"],
                   "NgayHenTra": d.base["NgayHenTra"], "KenhThucHien": d.base["KenhThucHien"],
                   "SoGiayToChuHoSo": d.base["SoGiayToChuHoSo"], "DonViXuLy": e.agency, "NgayCapNhat": iso(x.applied)}
            if d.mismatch:
                rec[d.mismatch] = mismatched(d.mismatch, rec[d.mismatch])
            w["portal"].add("sync_records", rec["MaDongBo"], to_us(x.applied), dumps(rec))
            self.counters["sync_records"] += 1
        self._sync_truth(d, events, visible)
        if d.application:
            self._application(f"DVC-{self.province}-{d.hoso_id}", d.filed, code, d, events, w)
        if d.orphan_filed is not None and d.orphan_filed < end:
            self._application(f"DVC-{self.province}-{d.hoso_id}-X", d.orphan_filed, None, d, [], w)
        if d.payment and d.payment[1] < end:
            pay_at, pay_recorded = d.payment
            w["portal"].add("payments", f"GD-{self.province}-{d.hoso_id}", to_us(pay_recorded), dumps({
                "MaGiaoDich": f"GD-{self.province}-{d.hoso_id}", "MaHoSo": code, "SoTien": d.proc["fee"],
                "KenhThanhToan": d.base["DuocThanhToanTrucTuyen"], "NgayThanhToan": iso(pay_at),
                "NgayCapNhat": iso(pay_recorded)}))
            self.counters["payments"] += 1
        done = next((e for e in events if e.status == 10), None)
        if d.rating and done is not None and d.rating[0] < end:
            rated, level = d.rating
            w["portal"].add("ratings", f"DG-{self.province}-{d.hoso_id}", to_us(rated), dumps({
                "MaDanhGia": f"DG-{self.province}-{d.hoso_id}", "MaHoSo": code, "MucDoHaiLong": level, "NgayDanhGia": iso(rated),
                "NgayCapNhat": iso(rated)}))
            self.counters["ratings"] += 1

    def _sync_truth(self, d: Dossier, events: list[Event], visible: list[Push]) -> None:
        """G1, G2, G3, G5 of one dossier and its G7 counts, from its timelines as the sources serve them."""
        p, t, code, qt = self.params, self.truth, d.code, d.qt
        agency = events[-1].agency
        receipt_n = next((n for n, e in enumerate(events) if e.status == 2), None)  # never a hand-over: those
        receipt = events[receipt_n] if receipt_n is not None else None  # repeat an earlier status
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
        if d.mismatch:
            t.add("G5", code, truth.g5_mismatch([(x.synced, True) for x in visible]), code, agency,
                  {"field": d.mismatch})
        if receipt is not None:
            receipts, syncs = self.g7.setdefault((receipt.agency, receipt.at.astimezone(TZ).date()), ([], []))
            receipts.append(receipt.recorded)
            if receipt_n in first_push:
                syncs.append(first_push[receipt_n])

    def _application(self, app_id: str, filed: dt.datetime, code: str | None, d: Dossier, events: list[Event],
                     w: dict[str, StoreWriter]) -> None:
        """A portal application, linked to the one-stop dossier once the one-stop first handles it."""
        rec = {"MaHoSoDVC": app_id, "MaHoSo": None, "MaTTHC": d.proc["code"], "NgayNop": iso(filed),
               "ChuHoSo": d.applicant["name"], "SoGiayToChuHoSo": d.applicant_id, "DonViTiepNhan": d.desk.code}
        w["portal"].add("online_applications", app_id, to_us(filed), dumps({**rec, "NgayCapNhat": iso(filed)}))
        handled = next((e for e in events if e.status != 1), None)
        if handled is not None:
            w["portal"].add("online_applications", app_id, to_us(handled.recorded),
                            dumps({**rec, "MaHoSo": code, "NgayCapNhat": iso(handled.recorded)}))
        self.counters["applications"] += 1
        self.truth.add("G4", app_id, truth.g4_orphan(filed, handled.recorded if handled else None, self.params),
                       code, d.desk.code)

    def _bad_record(self, kind: str, payload: dict, recorded: dt.datetime, code: str, hoso_id: int,
                    w: StoreWriter) -> None:
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
            number = f"PAKN-{self.province}-{day:%Y%m%d}-{seq:03d}"
            versions = [(t, rec) for t, rec in petition(rng, number, received, agency, proc["field"]) if t < self.end]
            for recorded, rec in versions:
                w.add("petitions", number, to_us(recorded), dumps({**rec, "NgayCapNhat": iso(recorded)}))
            self.counters["petitions"] += bool(versions)

    # --- driver ----------------------------------------------------------------------------------------
    def _finish_g7(self, before: dt.date | None) -> None:
        for key in sorted(k for k in self.g7 if before is None or k[1] < before):
            receipts, syncs = self.g7.pop(key)
            agency, day = key
            self.truth.add("G7", f"{agency}|{day.isoformat()}", truth.g7_drift(day, receipts, syncs, self.params),
                           None, agency, {"receipts": len(receipts)})

    def _finish_g8(self) -> None:
        for source in FEED_SOURCES:
            spans = [(o["start"], o["end"], o["mode"]) for o in self.outages if o["source"] == source]
            with open_store(self.out, source) as db:
                union = " UNION ALL ".join(f"SELECT changed_us FROM {e}" for e in SOURCES[source])
                rows = (us for (us,) in db.execute(f"SELECT changed_us FROM ({union}) ORDER BY 1"))
                self.truth.add("G8", source, truth.g8_stale(rows, spans, self.params, self.period_start,
                                                            self.end))

    def run(self, progress=None) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        w = {source: StoreWriter(self.out, source) for source in SOURCES}
        for entity, key, recorded, rec in catalogue_records(self.cat):
            if recorded < self.end:
                w["onestop"].add(entity, key, to_us(recorded), dumps({**rec, "NgayCapNhat": iso(recorded)}))
        for offset in range(self.days):
            day = self.start + dt.timedelta(days=offset)
            rng = random.Random(f"{self.seed}:day:{day.isoformat()}")
            self.daily_seq.clear()
            for seq, (filed, online) in enumerate(self._filings(rng, day), start=1):
                self._write(self._draw(rng, day, filed, online, int(day.strftime("%Y%m%d")) * 10_000 + seq,
                                       w["population"]), w)
            self._petitions(rng, day, w["portal"])
            for writer in w.values():
                writer.flush()
            self._finish_g7(day - dt.timedelta(days=G7_HORIZON))
            if progress:
                progress(offset + 1)
        counts = {source: writer.close() for source, writer in w.items()}
        self._finish_g7(None)
        self._finish_g8()
        write_faults_file(self.out, self.outages)
        result = self.result(counts)
        write_private(self.out / "truth.json", orjson.dumps(result, option=orjson.OPT_INDENT_2))
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


def simulate(seed: int, start: dt.date, days: int, out: Path, dossiers_per_year: int = 500_000,
             faults: str = "default", province: str = "40", progress=None, params: truth.Params | None = None) -> dict:
    if faults not in PROFILES:
        raise ValueError(f"unknown fault profile {faults!r} (known: {', '.join(PROFILES)})")
    for offset in (0, days):
        is_working_day(start + dt.timedelta(days=offset))  # raises outside the known calendar
    sim = Simulator(seed, start, days, dossiers_per_year, PROFILES[faults], province, out, params)
    return sim.run(progress)
