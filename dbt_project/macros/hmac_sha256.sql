{#-
  HMAC-SHA256 of a text value in SQL (the embedded PostgreSQL has no pgcrypto), as lowercase hex:
  sha256(opad || sha256(ipad || value)), with the pads of TTHC_PII_KEY that the bootstrap writes to
  staging.pii_hmac_pads. The key is never in the SQL, so it reaches neither target/ nor a log.
-#}
{% macro hmac_sha256(value) -%}
    encode(sha256(
        (select opad from {{ source('keys', 'pii_hmac_pads') }} where key_id = 'current')
        || sha256((select ipad from {{ source('keys', 'pii_hmac_pads') }} where key_id = 'current')
                  || convert_to({{ value }}, 'UTF8'))), 'hex')
{%- endmacro %}
