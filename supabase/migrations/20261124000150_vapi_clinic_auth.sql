-- Vapi authenticates with the clinic's shared secret. The webhook finds the clinic by the secret's
-- SHA-256 before it parses anything, so the digest is indexed and unique.

-- convert_to is only STABLE (it depends on the encoding name); with the encoding fixed to UTF8 the
-- result cannot change, so this wrapper is honestly IMMUTABLE and usable in a generated column.
create or replace function public.sha256_utf8(p text) returns bytea
language sql immutable strict parallel safe as $$ select sha256(convert_to(p, 'UTF8')) $$;

alter table clinics add column vapi_secret_sha256 bytea generated always as (public.sha256_utf8(vapi_secret)) stored;
create unique index clinics_vapi_secret_sha256 on clinics (vapi_secret_sha256) where vapi_secret_sha256 is not null;
