-- The ten dossier statuses (TrangThaiHoSo, Circular 01/2018), in Vietnamese and English.
select
    status_code,
    status_name_vi,
    status_name_en,
    is_finish_766,
    is_open
from (
    values
    (1, 'Mới đăng ký', 'newly registered', false, true),
    (2, 'Đã tiếp nhận', 'received', false, true),
    (3, 'Không được tiếp nhận', 'not accepted', true, false),
    (4, 'Đang xử lý', 'processing', false, true),
    (5, 'Yêu cầu bổ sung', 'supplement requested', false, true),
    (6, 'Yêu cầu thực hiện nghĩa vụ tài chính', 'financial obligation requested', false, true),
    (7, 'Công dân yêu cầu rút hồ sơ', 'withdrawal requested by the citizen', false, true),
    (8, 'Dừng xử lý', 'processing stopped', true, false),
    (9, 'Đã xử lý xong', 'resolved', true, false),
    (10, 'Đã trả kết quả', 'result returned', true, false)
) as s (status_code, status_name_vi, status_name_en, is_finish_766, is_open)
