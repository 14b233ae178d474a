-- How a dossier was filed (KenhThucHien).
select
    channel_code,
    channel_name_vi,
    channel_name_en,
    is_online
from (
    values
    (1, 'Trực tiếp', 'in person', false),
    (2, 'Trực tuyến', 'online', true),
    (3, 'Qua dịch vụ bưu chính công ích', 'public postal service', false)
) as c (channel_code, channel_name_vi, channel_name_en, is_online)
