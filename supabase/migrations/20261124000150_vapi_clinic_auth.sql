-- Vapi authenticates with the clinic's shared secret. The webhook finds the clinic by the secret's
-- SHA-256 before it parses anything, so the digest is indexed and unique.
alter table clinics add column vapi_secret_sha256 bytea
  generated always as (case when vapi_secret is null then null else sha256(convert_to(vapi_secret, 'UTF8')) end) stored;
create unique index clinics_vapi_secret_sha256 on clinics (vapi_secret_sha256) where vapi_secret_sha256 is not null;
