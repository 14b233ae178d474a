"""What each source entity looks like: its API path, key, typed columns and data contract.

A record that breaks the contract is quarantined with one reason (the first rule it breaks, in the
order of ``validate``); the reasons are the simulator's bad-record kinds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

MAX_TEXT = 2000  # a longer text field is 'oversized_field'

# field types of the contract
STR, INT, TS, DATE, BOOL, OBJ, LIST = "str", "int", "ts", "date", "bool", "obj", "list"


@dataclass(frozen=True)
class Column:
    """A typed column of the raw table, besides record_key, changed_at and payload."""

    name: str
    pg_type: str
    field: str


@dataclass(frozen=True)
class Entity:
    source: str
    name: str
    path: str
    key: str  # natural key field of the payload
    fields: dict[str, tuple[str, bool]]  # field -> (type, required)
    columns: tuple[Column, ...] = ()
    reference: bool = False  # catalogue data: read from the watermark on, not by data interval
    id_field: str | None = None  # personal/enterprise ID to check the format of
    checks: tuple[str, ...] = field(default=())
    monthly: bool = False  # a large version log: partitioned by month of changed_at (tthc.load.partitions)

    @property
    def table(self) -> str:
        return f"raw_{self.source}.{self.name}"

    @property
    def asset_uri(self) -> str:
        return f"postgres://tthc-warehouse/tthc/raw_{self.source}/{self.name}"


UPDATED = ("NgayCapNhat", (TS, True))
DOSSIER_CODE = Column("dossier_code", "text", "MaHoSo")
STATUS = Column("status", "integer", "TrangThaiHoSo")

ENTITIES: dict[str, Entity] = {e.name: e for e in (
    Entity("onestop", "admin_units", "/v1/admin-units", "MaDonViHanhChinh", dict([
        ("MaDonViHanhChinh", (STR, True)), ("TenDonViHanhChinh", (STR, True)), ("CapDonVi", (STR, True)),
        ("MaDonViCha", (STR, False)), ("HieuLucTu", (DATE, True)), ("HieuLucDen", (DATE, False)),
        ("MaDonViMoi", (STR, False)), ("MaDonViSapNhap", (LIST, False)), UPDATED]), reference=True),
    Entity("onestop", "agencies", "/v1/agencies", "MaDonVi", dict([
        ("MaDonVi", (STR, True)), ("TenDonVi", (STR, True)), ("CapDonVi", (STR, True)),
        ("MaDonViHanhChinh", (STR, True)), ("MaTinh", (STR, True)), ("HieuLucTu", (DATE, True)),
        ("HieuLucDen", (DATE, False)), ("MaDonViKeThua", (STR, False)), UPDATED]), reference=True),
    Entity("onestop", "procedures", "/v1/procedures", "MaTTHC", dict([
        ("MaTTHC", (STR, True)), ("TenTTHC", (STR, True)), ("LinhVuc", (STR, True)), ("CapThucHien", (STR, True)),
        ("ThoiHanGiaiQuyet", (INT, True)), ("LePhi", (INT, True)), ("MucDoDVC", (STR, True)),
        ("DeAn06", (BOOL, True)), ("CongKhai", (BOOL, True)), ("DongBoCSDLQG", (BOOL, True)),
        ("TichHopThanhToan", (BOOL, True)), ("QuyTrinhDienTu", (BOOL, True)), UPDATED]), reference=True,
        checks=("fee:LePhi",)),
    Entity("onestop", "dossiers", "/v1/dossiers", "MaHoSo", dict([
        ("HoSoID", (INT, True)), ("MaHoSo", (STR, True)), ("MaTTHC", (STR, True)), ("TenTTHC", (STR, True)),
        ("MaLinhVuc", (STR, True)), ("DonViXuLy", (STR, True)), ("MaDonViHanhChinh", (STR, True)),
        ("KenhThucHien", (INT, True)), ("LoaiDoiTuong", (INT, True)), ("ChuHoSo", (STR, True)),
        ("SoGiayToChuHoSo", (STR, True)), ("SoDienThoaiChuHoSo", (STR, False)), ("NgayNopHoSo", (TS, True)),
        ("NgayTiepNhan", (TS, False)), ("NgayHenTra", (TS, True)), ("LePhi", (INT, True)),
        ("DuocThanhToanTrucTuyen", (INT, True)), ("HoSoCoThanhPhanSoHoa", (INT, True)),
        ("CoKetQuaDienTu", (INT, True)), ("DuocTaiSuDungDuLieu", (INT, True)), ("DuocLayTuKhoDMQG", (INT, True)),
        ("DuocChungThucDienTu", (INT, True)), ("HoSoToanTrinh", (INT, True)),
        ("TaiKhoanDuocXacThucVoiVNeID", (INT, True)), ("MaCSDL", (STR, False)), ("NopThayCongDan", (INT, True)),
        ("TrangThaiHoSo", (INT, True)), ("NgayKetThucXuLy", (TS, False)), ("PhieuXinLoi", (OBJ, False)),
        ("PhienBan", (INT, True)), UPDATED]),
        columns=(Column("dossier_id", "bigint", "HoSoID"), STATUS, Column("applicant_id", "text", "SoGiayToChuHoSo"),
                 Column("applicant_type", "integer", "LoaiDoiTuong")), id_field="SoGiayToChuHoSo",
        checks=("status", "channel", "fee:LePhi", "due_after_receipt", "procedure", "unique_code"), monthly=True),
    Entity("onestop", "status_changes", "/v1/status-changes", "MaQuaTrinh", dict([
        ("MaQuaTrinh", (STR, True)), ("HoSoID", (INT, True)), ("MaHoSo", (STR, True)),
        ("TrangThaiHoSo", (INT, True)), ("ThoiGian", (TS, True)), ("DonViXuLy", (STR, True)),
        ("GhiChu", (STR, False)), UPDATED]),
        columns=(DOSSIER_CODE, STATUS), checks=("status",), monthly=True),
    Entity("portal", "sync_records", "/v1/sync-records", "MaDongBo", dict([
        ("MaDongBo", (STR, True)), ("MaQuaTrinh", (STR, True)), ("MaHoSo", (STR, True)),
        ("TrangThaiHoSo", (INT, True)), ("ThoiGianThayDoi", (TS, True)), ("NgayDongBo", (TS, True)),
        ("MaTTHC", (STR, True)), ("NgayHenTra", (TS, True)), ("KenhThucHien", (INT, True)),
        ("SoGiayToChuHoSo", (STR, True)), ("DonViXuLy", (STR, True)), UPDATED]),
        columns=(DOSSIER_CODE, STATUS), id_field="SoGiayToChuHoSo", checks=("status", "channel"), monthly=True),
    Entity("portal", "online_applications", "/v1/online-applications", "MaHoSoDVC", dict([
        ("MaHoSoDVC", (STR, True)), ("MaHoSo", (STR, False)), ("MaTTHC", (STR, True)), ("NgayNop", (TS, True)),
        ("ChuHoSo", (STR, True)), ("SoGiayToChuHoSo", (STR, True)), ("DonViTiepNhan", (STR, True)), UPDATED]),
        columns=(DOSSIER_CODE,), id_field="SoGiayToChuHoSo"),
    Entity("portal", "payments", "/v1/payments", "MaGiaoDich", dict([
        ("MaGiaoDich", (STR, True)), ("MaHoSo", (STR, True)), ("SoTien", (INT, True)),
        ("KenhThanhToan", (INT, True)), ("NgayThanhToan", (TS, True)), UPDATED]),
        columns=(DOSSIER_CODE,), checks=("fee:SoTien",)),
    Entity("portal", "ratings", "/v1/ratings", "MaDanhGia", dict([
        ("MaDanhGia", (STR, True)), ("MaHoSo", (STR, True)), ("MucDoHaiLong", (INT, True)),
        ("NgayDanhGia", (TS, True)), UPDATED]), columns=(DOSSIER_CODE,)),
    Entity("portal", "petitions", "/v1/petitions", "MaPAKN", dict([
        ("MaPAKN", (STR, True)), ("DonViXuLy", (STR, True)), ("LinhVuc", (STR, True)), ("NgayTiepNhan", (TS, True)),
        ("HanXuLy", (TS, True)), ("TrangThai", (INT, True)), ("NgayTraLoi", (TS, False)),
        ("MucDoHaiLong", (INT, False)), UPDATED])),
)}

VERIFICATIONS = Entity("population", "verifications", "/v1/citizens/verify", "id", dict([
    ("id", (STR, True)), ("result", (STR, True)), ("mismatched", (LIST, True)), ("verified_at", (TS, True))]),
    columns=(Column("result", "text", "result"),))

ALL_ENTITIES = (*ENTITIES.values(), VERIFICATIONS)


def by_source(source: str) -> list[Entity]:
    return [e for e in ENTITIES.values() if e.source == source]


def parse_ts(value: str) -> dt.datetime:
    """ISO-8601 with a UTC offset; ValueError otherwise."""
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("no UTC offset")
    return moment


_TYPES = {STR: str, INT: int, OBJ: dict, LIST: list, BOOL: bool}


def _is_unsafe(text: str) -> bool:
    """Text PostgreSQL cannot store: NUL, or a lone UTF-16 surrogate (not encodable as UTF-8)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def personal_id_ok(value: str, applicant_type: int | None) -> bool:
    """12-digit personal ID (province 001-096, gender/century digit), 9-digit legacy card;
    enterprises (type 2) a 10- or 13-digit tax code."""
    if not value.isdigit():
        return False
    n = len(value)
    if applicant_type == 1:
        return n == 9 or (n == 12 and 1 <= int(value[:3]) <= 96)
    if applicant_type is None:
        return n in (9, 10, 12, 13)
    return n in (10, 13, 12)


class Invalid(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def validate(entity: Entity, rec: dict, procedures: frozenset[str] | None = None) -> dict[str, dt.datetime]:
    """Raise Invalid(reason, detail) for a record that breaks the contract; return its parsed times.

    This is the reference: rules in order, the first broken one is the reason. ``Validator`` is the
    fast path the loader uses, and falls back to this for any record it is unsure of."""
    if not isinstance(rec, dict):
        raise Invalid("wrong_type", "record is not an object")
    fields = entity.fields
    for name, (_, required) in fields.items():
        if required and rec.get(name) is None:
            raise Invalid("missing_required_field", name)
    for name in rec:
        if name not in fields:
            raise Invalid("unexpected_field", name)
    times: dict[str, dt.datetime] = {}
    for name, value in rec.items():
        if value is None:
            continue
        kind = fields[name][0]
        if kind in (TS, DATE):
            if not isinstance(value, str):
                raise Invalid("wrong_type", f"{name} is {type(value).__name__}, not a date string")
            continue
        expected = _TYPES[kind]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise Invalid("wrong_type", f"{name} is {type(value).__name__}, not {kind}")
    for name, value in rec.items():
        if isinstance(value, str):
            if _is_unsafe(value):
                raise Invalid("unsafe_text", name)
            if len(value) > MAX_TEXT:
                raise Invalid("oversized_field", f"{name} has {len(value)} characters")
    for name, value in rec.items():
        if value is None:
            continue
        kind = fields[name][0]
        try:
            if kind == TS:
                times[name] = parse_ts(value)
            elif kind == DATE:
                dt.date.fromisoformat(value)
        except ValueError:
            raise Invalid("impossible_date", f"{name}={value[:40]!r}") from None
    record_checks(entity, rec, times, procedures)
    return times


def record_checks(entity: Entity, rec: dict, times: dict[str, dt.datetime],
                  procedures: frozenset[str] | None) -> None:
    """The rules on a record whose fields are all well-typed (the last rules of ``validate``)."""
    for check in entity.checks:
        if check == "status" and not 1 <= rec["TrangThaiHoSo"] <= 10:
            raise Invalid("invalid_status", f"TrangThaiHoSo={rec['TrangThaiHoSo']}")
        if check == "channel" and rec["KenhThucHien"] not in (1, 2, 3):
            raise Invalid("wrong_type", f"KenhThucHien={rec['KenhThucHien']}")
    if entity.id_field and not personal_id_ok(rec[entity.id_field], rec.get("LoaiDoiTuong")):
        raise Invalid("malformed_id", entity.id_field)
    for check in entity.checks:
        if check.startswith("fee:") and rec[check[4:]] < 0:
            raise Invalid("negative_fee", f"{check[4:]}={rec[check[4:]]}")
        if check == "due_after_receipt":
            start = times.get("NgayTiepNhan") or times["NgayNopHoSo"]
            if times["NgayHenTra"] < start:
                raise Invalid("due_before_receipt", "NgayHenTra before NgayTiepNhan/NgayNopHoSo")
        if check == "procedure" and procedures is not None and rec["MaTTHC"] not in procedures:
            raise Invalid("unknown_procedure", rec["MaTTHC"])


class Validator:
    """The loader's validation: the field rules in C (msgspec, a typed shape of the entity), then the
    record rules.

    A record the fast pass is unsure of (any field rule broken, a NUL in the text, text that is not
    valid UTF-8) goes to ``validate`` for its exact reason. A record that passes has broken none of
    the field rules, so the record rules that follow give the same first reason as ``validate``; tests
    compare the two on every bad-record kind and on edge cases."""

    def __init__(self, entity: Entity, procedures: frozenset[str] | None = None):
        self.entity, self.procedures = entity, procedures
        text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
        types = {STR: text, INT: int, TS: str, DATE: str, OBJ: dict, LIST: list, BOOL: bool}
        shape = [(name, types[kind]) if required else (name, types[kind] | None, None)
                 for name, (kind, required) in entity.fields.items()]
        self.shape = msgspec.defstruct(f"{entity.name}_contract", shape, forbid_unknown_fields=True, kw_only=True)
        self.timestamps = tuple(name for name, (kind, _) in entity.fields.items() if kind == TS)
        self.dates = tuple(name for name, (kind, _) in entity.fields.items() if kind == DATE)

    def __call__(self, rec, canonical: bytes | None = None) -> dict[str, dt.datetime]:
        """The record's parsed times, or Invalid. ``canonical`` is the record as orjson wrote it (a NUL
        shows there as an escape); without it the record takes the reference path."""
        times = self._fields(rec, canonical) if canonical is not None else None
        if times is None:
            return validate(self.entity, rec, self.procedures)
        record_checks(self.entity, rec, times, self.procedures)
        return times

    def _fields(self, rec, canonical: bytes) -> dict[str, dt.datetime] | None:
        if b"\\u0000" in canonical:
            return None
        try:
            msgspec.convert(rec, self.shape)
        except msgspec.ValidationError:
            return None
        times: dict[str, dt.datetime] = {}
        try:
            for name in self.timestamps:
                value = rec.get(name)
                if value is not None:
                    moment = times[name] = dt.datetime.fromisoformat(value)
                    if moment.tzinfo is None:
                        return None
            for name in self.dates:
                value = rec.get(name)
                if value is not None:
                    dt.date.fromisoformat(value)
        except ValueError:
            return None
        return times
