"""The catalogue: agencies (one-stop desks) and procedures, and each agency's persistent habits.

Procedures: the most-filed ones carry their national-catalogue names, levels, statutory times and
online-service type (codes from the national catalogue where marked ``catalogue_code``); the rest of
the 2,156 (1,051 full-process, 788 partial, 317 offline) are named in the catalogue's style. Volume
sits where it does in a real province: commune and district desks, not the provincial departments.

Agencies: provincial departments (each owns the fields it administers), one desk per district-level
unit and one per commune until 2025-07-01; from then on one desk per merged commune (the seat's desk
goes on under the new name; the others close, naming their successor).

Habits: every agency has persistent propensities (late dossiers, apology letters, e-results,
digitisation, online payment, VNeID, filing on citizens' behalf, ...) drawn once; some agencies are
good, some poor, some improve over the year. The province-wide means are calibrated to the published
figures (``tthc.sources.sim.mix.TARGETS``) by shifting every agency by the same amount on the logit
scale, weighted by each agency's expected volume.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from itertools import accumulate

from tthc.sources.sim.common import logit, sigmoid
from tthc.sources.sim.geography import REFORM_DATE, Geography, build_geography

CATALOGUE_DATE = dt.date(2020, 1, 1)  # when the catalogue records were first recorded
BASE_DATE = dt.date(2025, 1, 1)  # propensities are calibrated at this date; improvers drift from it

# field -> the provincial department that administers it
DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "Sở Tư pháp": ("Hộ tịch", "Chứng thực", "Lý lịch tư pháp", "Luật sư", "Công chứng"),
    "Sở Tài chính": ("Thành lập và hoạt động doanh nghiệp", "Đầu tư", "Tài chính", "Giá"),
    "Sở Xây dựng": ("Xây dựng", "Nhà ở", "Giao thông vận tải"),
    "Sở Nông nghiệp và Môi trường": ("Đất đai", "Tài nguyên nước", "Môi trường", "Trồng trọt", "Lâm nghiệp",
                                     "Thủy sản"),
    "Sở Y tế": ("Khám bệnh, chữa bệnh", "Dược", "Bảo trợ xã hội"),
    "Sở Giáo dục và Đào tạo": ("Giáo dục", "Văn bằng, chứng chỉ"),
    "Sở Công Thương": ("Công thương", "An toàn thực phẩm", "Điện"),
    "Sở Nội vụ": ("Lao động", "Việc làm", "Người có công", "Thi đua, khen thưởng"),
    "Sở Văn hóa, Thể thao và Du lịch": ("Văn hóa", "Du lịch", "Thể dục, thể thao"),
    "Sở Khoa học và Công nghệ": ("Khoa học và công nghệ", "Viễn thông", "Báo chí, xuất bản"),
    "Sở Dân tộc và Tôn giáo": ("Tôn giáo", "Công tác dân tộc"),
    "Ban Quản lý Khu kinh tế Đông Nam": ("Khu kinh tế",),
    "Văn phòng UBND tỉnh": ("Kiểm soát thủ tục hành chính",),
    "Công an tỉnh": ("Phòng cháy, chữa cháy", "Cư trú"),
    "Sở Ngoại vụ": ("Ngoại vụ",),
    "Thanh tra tỉnh": ("Tiếp công dân, khiếu nại, tố cáo",),
}
FIELDS = tuple(f for fields in DEPARTMENTS.values() for f in fields)


@dataclass(frozen=True)
class Named:
    code: str
    name: str
    field: str
    level: str  # province | district | commune
    days: int  # statutory processing time, working days
    fee: int  # VND
    online: str  # full | partial | none
    weight: float  # share of all dossiers, percent
    catalogue_code: bool = False  # the code is the national catalogue's


# The most-filed procedures (weights: share of a province's dossiers, percent).
NAMED = (
    Named("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam "
          "cấp hoặc chứng nhận", "Chứng thực", "commune", 1, 2_000, "partial", 19.0, True),
    Named("1.004222", "Đăng ký thường trú", "Cư trú", "commune", 7, 20_000, "full", 2.5, True),
    Named("1.004194", "Đăng ký tạm trú", "Cư trú", "commune", 3, 15_000, "full", 1.0, True),
    Named("2.000884", "Chứng thực chữ ký trong các giấy tờ, văn bản", "Chứng thực", "commune", 1, 10_000, "none",
          5.0, True),
    Named("1.001193", "Đăng ký khai sinh", "Hộ tịch", "commune", 1, 0, "full", 6.0, True),
    Named("2.000635", "Cấp bản sao trích lục hộ tịch", "Hộ tịch", "commune", 1, 8_000, "full", 4.0, True),
    Named("1.004873", "Cấp Giấy xác nhận tình trạng hôn nhân", "Hộ tịch", "commune", 3, 0, "full", 4.0, True),
    Named("1.000894", "Đăng ký kết hôn", "Hộ tịch", "commune", 1, 0, "partial", 2.0, True),
    Named("1.000656", "Đăng ký khai tử", "Hộ tịch", "commune", 1, 0, "full", 2.0, True),
    Named("1.004884", "Đăng ký lại khai sinh", "Hộ tịch", "commune", 5, 0, "partial", 0.5, True),
    Named("1.000689", "Đăng ký khai sinh kết hợp nhận cha, mẹ, con", "Hộ tịch", "commune", 3, 0, "partial", 0.3,
          True),
    Named("1.000593", "Đăng ký kết hôn lưu động", "Hộ tịch", "commune", 5, 0, "none", 0.1, True),
    Named("2.001263", "Đăng ký việc nuôi con nuôi trong nước", "Hộ tịch", "commune", 30, 400_000, "partial", 0.1,
          True),
    Named("1.010833", "Xác nhận thân nhân của người có công", "Người có công", "commune", 5, 0, "partial", 0.5,
          True),
    Named("1.011607", "Công nhận hộ nghèo, hộ cận nghèo thường xuyên hằng năm", "Bảo trợ xã hội", "commune", 15,
          0, "partial", 1.0, True),
    Named("1.001699", "Xác định, xác định lại mức độ khuyết tật và cấp Giấy xác nhận khuyết tật", "Bảo trợ xã hội",
          "commune", 25, 0, "partial", 1.0, True),
    Named("1.012753", "Đăng ký đất đai, tài sản gắn liền với đất lần đầu", "Đất đai", "district", 20, 100_000,
          "partial", 4.0, True),
    Named("1.004227", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất", "Đất đai",
          "district", 10, 50_000, "partial", 9.0),
    Named("1.001612", "Đăng ký thành lập hộ kinh doanh", "Thành lập và hoạt động doanh nghiệp", "district", 3,
          100_000, "full", 2.5),
    Named("2.000720", "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh", "Thành lập và hoạt động doanh nghiệp",
          "district", 3, 100_000, "full", 1.0, True),
    Named("1.001570", "Tạm ngừng hoạt động hộ kinh doanh", "Thành lập và hoạt động doanh nghiệp", "district", 3, 0,
          "full", 0.5, True),
    Named("1.001266", "Chấm dứt hoạt động hộ kinh doanh", "Thành lập và hoạt động doanh nghiệp", "district", 3, 0,
          "full", 0.5, True),
    Named("2.000575", "Cấp lại Giấy chứng nhận đăng ký hộ kinh doanh", "Thành lập và hoạt động doanh nghiệp",
          "district", 3, 50_000, "full", 0.2, True),
    Named("1.013225", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ", "Xây dựng", "district", 15, 75_000,
          "partial", 2.0, True),
    Named("1.013227", "Gia hạn giấy phép xây dựng", "Xây dựng", "district", 5, 15_000, "partial", 0.2, True),
    Named("1.013228", "Cấp lại giấy phép xây dựng", "Xây dựng", "district", 5, 15_000, "partial", 0.1, True),
    Named("1.001776", "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hằng tháng", "Bảo trợ xã hội",
          "district", 20, 0, "partial", 2.0, True),
    Named("1.001731", "Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội", "Bảo trợ xã hội", "district", 5, 0,
          "partial", 1.0, True),
    Named("2.000528", "Đăng ký khai sinh có yếu tố nước ngoài", "Hộ tịch", "district", 15, 75_000, "partial", 0.3,
          True),
    Named("3.000182", "Tuyển sinh trung học cơ sở", "Giáo dục", "district", 15, 0, "full", 3.0, True),
    Named("2.001417", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại Việt Nam",
          "Lý lịch tư pháp", "province", 10, 200_000, "full", 3.0),
    Named("2.001610", "Đăng ký thành lập doanh nghiệp tư nhân", "Thành lập và hoạt động doanh nghiệp", "province",
          3, 50_000, "full", 1.5),
    Named("2.002041", "Đăng ký thay đổi nội dung đăng ký doanh nghiệp", "Thành lập và hoạt động doanh nghiệp",
          "province", 3, 50_000, "full", 2.5),
    Named("1.002804", "Đổi giấy phép lái xe do ngành Giao thông vận tải cấp", "Giao thông vận tải", "province", 5,
          135_000, "full", 2.5),
    Named("1.014199", "Cấp giấy phép lao động cho người nước ngoài làm việc tại Việt Nam", "Lao động", "province",
          5, 600_000, "full", 0.3, True),
    Named("1.014201", "Gia hạn giấy phép lao động cho người nước ngoài làm việc tại Việt Nam", "Lao động",
          "province", 5, 600_000, "full", 0.1, True),
    Named("1.004616", "Cấp chứng chỉ hành nghề khám bệnh, chữa bệnh", "Khám bệnh, chữa bệnh", "province", 20,
          360_000, "partial", 0.5),
    Named("1.005092", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc", "Văn bằng, chứng chỉ", "province", 1, 0, "full",
          0.5),
    Named("1.001459", "Cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm", "An toàn thực phẩm", "province",
          15, 1_000_000, "partial", 0.4),
)
N_PROCEDURES = 2156
ONLINE_TYPES = {"full": 1051, "partial": 788, "none": 317}
TAIL_WEIGHT = 12.0  # percent of dossiers spread over the unnamed procedures

VERBS = ("Cấp", "Cấp lại", "Điều chỉnh", "Gia hạn", "Đăng ký", "Công nhận", "Thẩm định", "Xác nhận", "Thu hồi",
         "Phê duyệt", "Cho phép", "Chấp thuận")
OBJECTS: dict[str, tuple[str, ...]] = {
    "Hộ tịch": ("thay đổi, cải chính hộ tịch", "giám hộ", "nhận cha, mẹ, con", "xác định lại dân tộc"),
    "Chứng thực": ("hợp đồng, giao dịch", "việc sửa lỗi sai sót trong hợp đồng", "bản sao từ bản chính"),
    "Lý lịch tư pháp": ("phiếu lý lịch tư pháp theo yêu cầu cơ quan tố tụng", "thông tin lý lịch tư pháp"),
    "Luật sư": ("chứng chỉ hành nghề luật sư", "đăng ký hoạt động văn phòng luật sư"),
    "Công chứng": ("đăng ký hành nghề công chứng viên", "thành lập văn phòng công chứng"),
    "Thành lập và hoạt động doanh nghiệp": ("chi nhánh, văn phòng đại diện", "giải thể doanh nghiệp",
                                            "chuyển đổi loại hình doanh nghiệp", "tạm ngừng kinh doanh"),
    "Đầu tư": ("chủ trương đầu tư dự án", "giấy chứng nhận đăng ký đầu tư", "điều chỉnh dự án đầu tư"),
    "Tài chính": ("quyết toán vốn đầu tư", "mã số đơn vị có quan hệ với ngân sách", "thanh lý tài sản công"),
    "Giá": ("kê khai giá", "phương án giá"),
    "Xây dựng": ("giấy phép xây dựng công trình", "chứng chỉ hành nghề hoạt động xây dựng",
                 "thiết kế xây dựng triển khai sau thiết kế cơ sở", "giấy phép di dời công trình"),
    "Nhà ở": ("thông báo nhà ở hình thành trong tương lai", "mua, thuê mua nhà ở xã hội", "nhà ở công vụ"),
    "Giao thông vận tải": ("giấy phép kinh doanh vận tải", "phù hiệu xe ô tô", "giấy phép lưu hành xe quá tải",
                           "đăng ký phương tiện thủy nội địa"),
    "Đất đai": ("chuyển mục đích sử dụng đất", "giao đất, cho thuê đất", "tách thửa, hợp thửa đất",
                "gia hạn sử dụng đất", "đính chính giấy chứng nhận"),
    "Tài nguyên nước": ("giấy phép khai thác nước dưới đất", "giấy phép xả thải vào nguồn nước"),
    "Môi trường": ("giấy phép môi trường", "đăng ký môi trường", "kết quả vận hành thử nghiệm công trình"),
    "Trồng trọt": ("giống cây trồng", "cơ sở đủ điều kiện buôn bán phân bón", "mã số vùng trồng"),
    "Lâm nghiệp": ("phương án quản lý rừng bền vững", "khai thác lâm sản", "chuyển loại rừng"),
    "Thủy sản": ("giấy phép khai thác thủy sản", "đăng ký tàu cá", "cơ sở nuôi trồng thủy sản"),
    "Khám bệnh, chữa bệnh": ("giấy phép hoạt động phòng khám", "giấy phép hành nghề", "cơ sở dịch vụ y tế"),
    "Dược": ("chứng chỉ hành nghề dược", "giấy chứng nhận đủ điều kiện kinh doanh dược"),
    "Bảo trợ xã hội": ("hỗ trợ khẩn cấp", "tiếp nhận đối tượng vào cơ sở trợ giúp xã hội",
                       "nhận chăm sóc, nuôi dưỡng đối tượng cần bảo vệ khẩn cấp"),
    "Giáo dục": ("thành lập trường mầm non", "cho phép trường hoạt động giáo dục", "chuyển trường",
                 "sáp nhập, chia, tách trường"),
    "Văn bằng, chứng chỉ": ("chỉnh sửa nội dung văn bằng", "công nhận văn bằng do nước ngoài cấp"),
    "Công thương": ("giấy phép bán lẻ sản phẩm thuốc lá", "giấy phép bán lẻ rượu", "cửa hàng xăng dầu",
                    "hoạt động khuyến mại"),
    "An toàn thực phẩm": ("xác nhận kiến thức an toàn thực phẩm", "công bố sản phẩm"),
    "Điện": ("giấy phép hoạt động điện lực", "thỏa thuận vị trí công trình điện"),
    "Lao động": ("đăng ký nội quy lao động", "giấy phép cho thuê lại lao động", "hợp đồng nhận lao động thực tập"),
    "Việc làm": ("trợ cấp thất nghiệp", "hỗ trợ học nghề", "giấy phép dịch vụ việc làm"),
    "Người có công": ("trợ cấp thờ cúng liệt sĩ", "chế độ ưu đãi người có công", "di chuyển hồ sơ người có công"),
    "Thi đua, khen thưởng": ("danh hiệu thi đua", "bằng khen"),
    "Văn hóa": ("giấy phép tổ chức lễ hội", "di tích cấp tỉnh", "kinh doanh karaoke"),
    "Du lịch": ("giấy phép kinh doanh lữ hành", "thẻ hướng dẫn viên du lịch", "cơ sở lưu trú du lịch"),
    "Thể dục, thể thao": ("câu lạc bộ thể thao", "giải thi đấu thể thao"),
    "Khoa học và công nghệ": ("đăng ký kết quả nhiệm vụ khoa học", "giấy chứng nhận doanh nghiệp khoa học"),
    "Viễn thông": ("giấy phép thiết lập trang thông tin điện tử", "cung cấp dịch vụ trò chơi điện tử"),
    "Báo chí, xuất bản": ("giấy phép xuất bản bản tin", "giấy phép hoạt động in"),
    "Tôn giáo": ("sinh hoạt tôn giáo tập trung", "tổ chức cuộc lễ ngoài cơ sở tôn giáo"),
    "Công tác dân tộc": ("người có uy tín trong đồng bào dân tộc thiểu số",),
    "Khu kinh tế": ("giấy phép xây dựng trong khu kinh tế", "dự án đầu tư trong khu kinh tế"),
    "Kiểm soát thủ tục hành chính": ("phản ánh, kiến nghị về quy định hành chính",),
    "Phòng cháy, chữa cháy": ("thiết kế về phòng cháy, chữa cháy", "nghiệm thu về phòng cháy, chữa cháy"),
    "Cư trú": ("gia hạn tạm trú", "xóa đăng ký thường trú", "xác nhận thông tin về cư trú", "khai báo tạm vắng"),
    "Ngoại vụ": ("tổ chức hội nghị, hội thảo quốc tế", "cho phép sử dụng thẻ ABTC"),
    "Tiếp công dân, khiếu nại, tố cáo": ("giải quyết khiếu nại lần đầu", "giải quyết tố cáo"),
}
LEVEL_WORD = {"province": "cấp tỉnh", "district": "cấp huyện", "commune": "cấp xã"}
LOCAL_FIELDS = ("Hộ tịch", "Chứng thực", "Đất đai", "Bảo trợ xã hội", "Người có công", "Xây dựng", "Giáo dục",
                "Văn hóa", "Việc làm", "Trồng trọt", "Thành lập và hoạt động doanh nghiệp", "Tôn giáo")


@dataclass(frozen=True)
class Flag:
    """An agency habit: a probability per dossier with a province-wide mean at BASE_DATE, its spread
    between agencies (sd on the logit scale), the share of agencies that improve and by how much a year."""

    mean: float
    spread: float
    improvers: float = 0.0
    gain: float = 0.0  # logit per year
    poor: float = 0.0  # share of agencies far worse (logit + poor_shift)
    poor_shift: float = 0.0


# Generation parameters, tuned so that the measured mix (tthc.sources.sim.mix) meets its targets.
HABITS: dict[str, Flag] = {
    "late": Flag(0.05, 0.7, improvers=0.25, gain=-0.8, poor=0.06, poor_shift=1.9),  # not finished by the due time
    "apology": Flag(0.60, 0.8),  # an apology letter on a late dossier
    "e_result": Flag(0.41, 1.0, improvers=0.3, gain=0.3),  # electronic result, on resolved dossiers
    "digitised": Flag(0.88, 0.9, improvers=0.3, gain=0.8),  # dossier components digitised at receipt
    "reuse": Flag(0.30, 0.8, improvers=0.2, gain=0.6),  # digitised data reused
    "data_store": Flag(0.18, 0.9, improvers=0.2, gain=0.6),  # data taken from the citizen's data store
    "e_copy": Flag(0.25, 1.0, improvers=0.2, gain=0.8),  # certified electronic copy (certification procedures)
    "population_lookup": Flag(0.60, 0.8),  # population database looked up for a citizen applicant
    "online_paid": Flag(0.55, 0.9, improvers=0.3, gain=0.8),  # fee paid online where the procedure allows it
    "not_vneid": Flag(0.03, 1.2, poor=0.05, poor_shift=2.0),  # online citizen filing without a VNeID account
    "proxy": Flag(0.06, 1.0, poor=0.06, poor_shift=2.3),  # "online" filing made by a civil servant's account
    "full_process": Flag(0.30, 0.8, improvers=0.35, gain=0.6),  # online dossier of a full-process procedure
    #                                                              handled fully online (toàn trình)
    "rated": Flag(0.12, 0.8),  # the applicant rates the service
}
# The province-wide drift of the full-process share (logit per year), on top of improving agencies.
FULL_PROCESS_DRIFT = 0.45


@dataclass
class Agency:
    code: str
    name: str
    level: str  # province | district | commune
    unit: str  # administrative unit it serves
    weight: float  # expected share of the volume at its level
    habits: dict[str, tuple[float, float]] = field(default_factory=dict)  # flag -> (logit at BASE_DATE, per year)

    def rate(self, flag: str, day: dt.date) -> float:
        base, slope = self.habits[flag]
        years = (day - BASE_DATE).days / 365.25
        extra = FULL_PROCESS_DRIFT * years if flag == "full_process" else 0.0
        return sigmoid(base + slope * years + extra)


@dataclass
class Catalogue:
    province: str
    geo: Geography
    departments: list[Agency] = field(default_factory=list)
    field_department: dict[str, Agency] = field(default_factory=dict)
    district_desks: list[Agency] = field(default_factory=list)
    commune_desks_old: list[Agency] = field(default_factory=list)
    commune_desks_new: list[Agency] = field(default_factory=list)
    successor: dict[str, Agency] = field(default_factory=dict)  # abolished desk -> the desk that takes over
    procedures: list[dict] = field(default_factory=list)
    proc_weights: list[float] = field(default_factory=list)
    _cum: dict = field(default_factory=dict, repr=False)

    @property
    def agencies(self) -> list[Agency]:
        seen: dict[str, Agency] = {}
        for a in (*self.departments, *self.district_desks, *self.commune_desks_old, *self.commune_desks_new):
            seen.setdefault(a.code, a)
        return list(seen.values())

    def desks(self, level: str, day: dt.date) -> list[Agency]:
        if level == "province":
            return self.departments
        if day >= REFORM_DATE:
            return self.commune_desks_new
        return self.district_desks if level == "district" else self.commune_desks_old

    def desk(self, rng: random.Random, proc: dict, day: dt.date) -> Agency:
        """The desk a dossier of this procedure goes to: the field's department, or a local desk drawn
        by the size of the population it serves."""
        if proc["level"] == "province":
            return self.field_department[proc["field"]]
        level, after = ("commune" if day >= REFORM_DATE else proc["level"]), day >= REFORM_DATE
        if (level, after) not in self._cum:
            desks = self.desks(level, day)
            self._cum[(level, after)] = (desks, list(accumulate(a.weight for a in desks)))
        desks, cum = self._cum[(level, after)]
        return rng.choices(desks, cum_weights=cum)[0]


def _procedures(rng: random.Random) -> tuple[list[dict], list[float]]:
    named_codes = {n.code for n in NAMED}
    procs, weights = [], []
    left = dict(ONLINE_TYPES)
    for n in NAMED:
        left[n.online] -= 1
        procs.append({"code": n.code, "name": n.name, "field": n.field, "level": n.level, "days": n.days,
                      "fee": n.fee, "online": n.online, "catalogue_code": n.catalogue_code})
        weights.append(n.weight)
    online_types = [t for t, k in left.items() for _ in range(k)]
    rng.shuffle(online_types)
    used_codes = set(named_codes)
    names: set[str] = {p["name"] for p in procs}
    tail = len(online_types)
    zipf = TAIL_WEIGHT / sum(1 / (r + 1) ** 0.9 for r in range(tail))
    for rank in range(tail):
        level = rng.choices(["province", "district", "commune"], [0.5, 0.25, 0.25])[0]
        field_name = rng.choice(LOCAL_FIELDS if level != "province" else FIELDS)
        while True:
            code = f"{rng.choice((1, 1, 1, 2, 2, 3))}.{rng.randrange(100, 14000):06d}"
            if code not in used_codes:
                used_codes.add(code)
                break
        for attempt in range(50):
            name = f"{rng.choice(VERBS)} {rng.choice(OBJECTS[field_name])}"
            if attempt > 10:
                name += f" ({LEVEL_WORD[level]})"
            if attempt > 30:
                name += f" - {field_name.lower()}"
            if name not in names:
                break
        else:
            name = f"{name} ({code})"
        names.add(name)
        name = name[0].upper() + name[1:]
        has_fee = rng.random() < 0.45
        procs.append({"code": code, "name": name, "field": field_name, "level": level,
                      "days": rng.choice([3, 5, 5, 7, 10, 10, 15, 15, 20, 30]),
                      "fee": rng.choice([10_000, 50_000, 100_000, 200_000, 500_000]) if has_fee else 0,
                      "online": online_types[rank], "catalogue_code": False})
        weights.append(zipf / (rank + 1) ** 0.9)
    for p in procs:
        p["level_after"] = "commune" if p["level"] == "district" else p["level"]
        p["published"] = rng.random() < 0.97  # publicly disclosed on the portal (transparency 1.1)
        p["synced_catalogue"] = rng.random() < 0.95  # entry synchronised to the national TTHC database (1.2)
        p["payment_integrated"] = bool(p["fee"]) and p["online"] != "none" and rng.random() < 0.7
        p["e_workflow"] = rng.random() < 0.9  # its electronic internal workflow is published (transparency 1.3)
        p["project06"] = rng.random() < 0.1
    return procs, weights


def _habits(rng: random.Random) -> dict[str, tuple[float, float]]:
    out = {}
    for name, f in HABITS.items():
        base = logit(f.mean) + rng.gauss(0, f.spread)
        if f.poor and rng.random() < f.poor:
            base += f.poor_shift
        slope = f.gain * rng.uniform(0.5, 1.5) if f.improvers and rng.random() < f.improvers else 0.0
        out[name] = (base, slope)
    return out


def _calibrate(agencies: list[tuple[Agency, float]]) -> None:
    """Shift every agency's logits of a flag by one amount so that the volume-weighted mean at BASE_DATE
    equals the flag's province-wide mean."""
    total = sum(w for _, w in agencies)
    for name, f in HABITS.items():
        lo, hi = -10.0, 10.0
        for _ in range(60):
            mid = (lo + hi) / 2
            mean = sum(w * sigmoid(a.habits[name][0] + mid) for a, w in agencies) / total
            lo, hi = (mid, hi) if mean < f.mean else (lo, mid)
        for a, _ in agencies:
            base, slope = a.habits[name]
            a.habits[name] = (base + (lo + hi) / 2, slope)


def build_catalogue(rng: random.Random, province: str) -> Catalogue:
    geo = build_geography(rng, province)
    cat = Catalogue(province, geo)
    h = f"H{province}"
    cat.procedures, cat.proc_weights = _procedures(rng)
    for n, (name, fields) in enumerate(DEPARTMENTS.items(), start=1):
        a = Agency(f"000.00.{n:02d}.{h}", name, "province", province, 1.0, _habits(rng))
        cat.departments.append(a)
        for f in fields:
            cat.field_department[f] = a
    commune_weight = {c["code"]: c["weight"] for c in geo.communes_old}
    district_index = {}
    for n, d in enumerate(geo.districts, start=21):
        district_index[d["code"]] = n
        weight = sum(c["weight"] for c in geo.communes_old if c["district"] == d["code"])
        cat.district_desks.append(Agency(f"000.00.{n:02d}.{h}", f"UBND {d['name']}", "district", d["code"], weight,
                                         _habits(rng)))
    for k, c in enumerate(geo.communes_old):
        cat.commune_desks_old.append(Agency(f"{k:03d}.{district_index[c['district']]:02d}.00.{h}",
                                            f"UBND {c['name']}", "commune", c["code"], c["weight"], _habits(rng)))
    by_unit = {a.unit: a for a in cat.commune_desks_old}
    for new in geo.communes_new:  # the seat's desk goes on under the merged commune's name
        seat = by_unit[new["code"]]
        cat.commune_desks_new.append(Agency(seat.code, f"UBND {new['name']}", "commune", new["code"],
                                            sum(commune_weight[m] for m in new["members"]), seat.habits))
    new_desk = {a.unit: a for a in cat.commune_desks_new}
    for a in cat.commune_desks_old:
        if a.code not in {d.code for d in cat.commune_desks_new}:
            cat.successor[a.code] = new_desk[geo.old_to_new[a.unit]]
    for a in cat.district_desks:
        cat.successor[a.code] = new_desk[geo.district_seat[a.unit]]
    _calibrate(_expected_volume(cat))
    return cat


def _expected_volume(cat: Catalogue) -> list[tuple[Agency, float]]:
    """Each agency's expected share of all dossiers before the reform (the calibration weights)."""
    by_level: dict[str, float] = {"province": 0.0, "district": 0.0, "commune": 0.0}
    by_field: dict[str, float] = {}
    for p, w in zip(cat.procedures, cat.proc_weights, strict=True):
        by_level[p["level"]] += w
        if p["level"] == "province":
            by_field[p["field"]] = by_field.get(p["field"], 0.0) + w
    out: dict[str, list] = {}
    for f, w in by_field.items():
        a = cat.field_department[f]
        out.setdefault(a.code, [a, 0.0])[1] += w
    for level, desks in (("district", cat.district_desks), ("commune", cat.commune_desks_old)):
        total = sum(a.weight for a in desks)
        for a in desks:
            out.setdefault(a.code, [a, 0.0])[1] += by_level[level] * a.weight / total
    for a in cat.departments:
        out.setdefault(a.code, [a, 1e-6])
    return [(a, w) for a, w in out.values()]



ONLINE_NAMES = {"full": "toan_trinh", "partial": "mot_phan", "none": "khong"}


def catalogue_records(cat: Catalogue) -> list[tuple[str, str, dt.datetime, dict]]:
    """Every version of the catalogue as (entity, key, recorded, record): admin units, agencies and
    procedures as first recorded, then as the 2025 reform changed them. A version that ends a unit or an
    agency carries HieuLucDen; a new version starts at the reform (HieuLucTu), so at most one version of
    a code is in force at any time."""
    from tthc.calendar import TZ

    geo = cat.geo
    t0 = dt.datetime.combine(CATALOGUE_DATE, dt.time(0), TZ)
    reform = dt.datetime.combine(REFORM_DATE, dt.time(0), TZ)
    out: list[tuple[str, str, dt.datetime, dict]] = []

    def unit(code, name, level, parent, valid_from, valid_to, recorded, extra=None):
        out.append(("admin_units", code, recorded, {
            "MaDonViHanhChinh": code, "TenDonViHanhChinh": name, "CapDonVi": level, "MaDonViCha": parent,
            "HieuLucTu": valid_from.isoformat(), "HieuLucDen": valid_to and valid_to.isoformat(),
            "MaDonViMoi": None, "MaDonViSapNhap": None, **(extra or {})}))

    unit(cat.province, geo.province_name, "tinh", None, CATALOGUE_DATE, None, t0)
    seats = {c["code"]: c for c in geo.communes_new}
    for d in geo.districts:
        unit(d["code"], d["name"], "huyen", cat.province, CATALOGUE_DATE, None, t0)
        unit(d["code"], d["name"], "huyen", cat.province, CATALOGUE_DATE, REFORM_DATE, reform,
             {"MaDonViMoi": geo.district_seat[d["code"]]})
    for c in geo.communes_old:
        unit(c["code"], c["name"], "xa", c["district"], CATALOGUE_DATE, None, t0)
        if c["code"] in seats:  # the merged commune at this seat: a new version from the reform on
            new = seats[c["code"]]
            unit(new["code"], new["name"], "xa", cat.province, REFORM_DATE, None, reform,
                 {"MaDonViSapNhap": new["members"]})
        else:
            unit(c["code"], c["name"], "xa", c["district"], CATALOGUE_DATE, REFORM_DATE, reform,
                 {"MaDonViMoi": geo.old_to_new[c["code"]]})

    def agency(a: Agency, valid_from, valid_to, recorded, successor=None):
        out.append(("agencies", a.code, recorded, {
            "MaDonVi": a.code, "TenDonVi": a.name, "CapDonVi": a.level, "MaDonViHanhChinh": a.unit,
            "MaTinh": cat.province, "HieuLucTu": valid_from.isoformat(),
            "HieuLucDen": valid_to and valid_to.isoformat(), "MaDonViKeThua": successor}))

    for a in cat.departments:
        agency(a, CATALOGUE_DATE, None, t0)
    continuing = {a.code: a for a in cat.commune_desks_new}
    for a in (*cat.district_desks, *cat.commune_desks_old):
        agency(a, CATALOGUE_DATE, None, t0)
        if a.code in continuing:
            agency(continuing[a.code], REFORM_DATE, None, reform)
        else:
            agency(a, CATALOGUE_DATE, REFORM_DATE, reform, cat.successor[a.code].code)
    for p in cat.procedures:
        def version(level, recorded, p=p):
            out.append(("procedures", p["code"], recorded, {
                "MaTTHC": p["code"], "TenTTHC": p["name"], "LinhVuc": p["field"], "CapThucHien": level,
                "ThoiHanGiaiQuyet": p["days"], "LePhi": p["fee"], "MucDoDVC": ONLINE_NAMES[p["online"]],
                "DeAn06": p["project06"], "CongKhai": p["published"], "DongBoCSDLQG": p["synced_catalogue"],
                "TichHopThanhToan": p["payment_integrated"], "QuyTrinhDienTu": p["e_workflow"]}))
        version(p["level"], t0)
        if p["level_after"] != p["level"]:  # district-level procedures pass to the communes
            version(p["level_after"], reform)
    return out
