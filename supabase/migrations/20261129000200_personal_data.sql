-- Issue 13: every byte of patient data under the vault (docs/data-inventory.md lists every column).
--
-- Calls, leads and SMS no longer keep personal values in plaintext: what the product needs stays in
-- structured columns; numbers, names, transcripts, messages, summaries, recording URLs and SMS bodies
-- are sealed (AES-256-GCM, Privacy/Vault.cs) under a per-caller data key. A caller is identified by a
-- keyed hash of their E.164 number (HMAC-SHA256 under the clinic's lookup key, which is stored only
-- wrapped by the key-encryption key), so lookups (opt-outs, leads by number, erasure by number) work
-- without the number, and erasing a number destroys its key (crypto-shredding).

-- Keys --------------------------------------------------------------------------------------------

-- One lookup key per clinic: the HMAC key of its phone hashes. Never destroyed while the clinic
-- exists (opt-outs must keep matching); re-wrapped by `-- rotate-keys` like the data keys.
create table clinic_keys (
  clinic_id     uuid primary key references clinics(id) on delete cascade,
  key_id        text not null,
  wrapped_key   bytea not null,
  created_at    timestamptz not null default now(),
  rewrapped_at  timestamptz
);

-- One data key per caller (per clinic and number hash). Erasure deletes the row: every ciphertext
-- sealed under it, backups included, becomes unreadable even with the master key.
create table caller_keys (
  clinic_id     uuid not null references clinics(id) on delete cascade,
  caller_hash   bytea not null check (length(caller_hash) = 32),
  key_id        text not null,
  wrapped_key   bytea not null,
  created_at    timestamptz not null default now(),
  rewrapped_at  timestamptz,
  primary key (clinic_id, caller_hash)
);

alter table clinic_keys enable row level security;
alter table clinic_keys force row level security;
create policy clinic_keys_tenant on clinic_keys for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
alter table caller_keys enable row level security;
alter table caller_keys force row level security;
create policy caller_keys_tenant on caller_keys for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));

revoke all on table clinic_keys, caller_keys from public, anon, authenticated, service_role;
-- A lookup key is created on first use and never changed by a request; only key rotation updates it.
grant select, insert on table clinic_keys to authenticated;
grant select, insert, update on table clinic_keys to service_role;
-- Sealing takes the caller's key with a no-op update (a row lock, so a concurrent erasure waits for
-- the sealing transaction and then sees its rows); erasure (an admin request) deletes caller keys.
grant select, insert, delete on table caller_keys to authenticated;
grant update (key_id) on table caller_keys to authenticated;
grant select, insert, update, delete on table caller_keys to service_role;

-- Retention ---------------------------------------------------------------------------------------

-- Call content (transcripts, messages, summaries, recording URLs, SMS bodies) older than this is
-- purged by the retention worker; leads that never converted are minimised after the same time.
alter table clinics
  add column call_content_retention_days int not null default 90
    check (call_content_retention_days between 1 and 3650);

-- Calls -------------------------------------------------------------------------------------------

alter table calls
  add column caller_hash        bytea check (caller_hash is null or length(caller_hash) = 32),
  -- Sealed JSON: customerNumber, customerName, transcript, messages, summary, recordingUrl,
  -- stereoRecordingUrl, structuredData, successEvaluation (Calls/CallContent.cs).
  add column content            bytea,
  add column procedure          text check (length(procedure) between 1 and 100),
  add column duration_seconds   numeric,
  add column content_purged_at  timestamptz,
  add constraint calls_content_has_key check (content is null or caller_hash is not null);
create index calls_clinic_caller on calls (clinic_id, caller_hash) where caller_hash is not null;
create index calls_content_age on calls (created_at) where content is not null;

-- Leads -------------------------------------------------------------------------------------------

alter table leads
  alter column phone drop not null,
  add column phone_hash    bytea check (phone_hash is null or length(phone_hash) = 32),
  -- Sealed JSON: phone, name.
  add column content       bytea,
  add column minimised_at  timestamptz,
  add constraint leads_content_has_key check (content is null or phone_hash is not null);
create index leads_clinic_phone_hash on leads (clinic_id, phone_hash) where phone_hash is not null;
create index leads_clinic_patient on leads (clinic_id, patient_id) where patient_id is not null;
create index leads_unconverted_age on leads (created_at) where converted_at is null and minimised_at is null;

-- SMS ---------------------------------------------------------------------------------------------

alter table sms_messages
  alter column to_phone drop not null,
  alter column body drop not null,
  add column to_hash            bytea check (to_hash is null or length(to_hash) = 32),
  -- Sealed JSON: to, body.
  add column content            bytea,
  add column content_purged_at  timestamptz,
  add constraint sms_messages_content_has_key check (content is null or to_hash is not null);
create index sms_messages_clinic_to_hash on sms_messages (clinic_id, to_hash) where to_hash is not null;
create index sms_messages_content_age on sms_messages (created_at) where content is not null;

-- Opt-outs are kept by number hash (a suppression list outlives an erasure: STOP must still hold).
alter table sms_opt_outs drop constraint sms_opt_outs_pkey;
alter table sms_opt_outs
  alter column phone drop not null,
  add column phone_hash bytea check (phone_hash is null or length(phone_hash) = 32),
  add constraint sms_opt_outs_identified check (phone is not null or phone_hash is not null);
create unique index sms_opt_outs_clinic_hash on sms_opt_outs (clinic_id, phone_hash);
create unique index sms_opt_outs_clinic_phone on sms_opt_outs (clinic_id, phone) where phone is not null;

-- What the backfill (Privacy/Retention.cs) still has to seal: empty once it has run.
create index calls_legacy_plaintext on calls (id)
  where report is not null or summary is not null or structured_data is not null or success_evaluation is not null or customer_number is not null;
create index leads_legacy_plaintext on leads (id) where phone is not null or name is not null;
create index sms_messages_legacy_plaintext on sms_messages (id) where to_phone is not null or body is not null;

-- Webhook replies and sanitized transcripts are purged by age too.
create index vapi_events_received on vapi_events (received_at);
create index public_transcripts_created on public_transcripts (created_at);

-- No new plaintext --------------------------------------------------------------------------------

-- The columns that used to hold personal values in plaintext may keep their old values until the
-- backfill (Privacy/Retention.cs) seals them, but no statement may write a new value into them.
-- A trigger rather than a NOT VALID check: a check would also refuse a status update of a row the
-- backfill has not reached yet.
create or replace function public.refuse_plaintext() returns trigger
language plpgsql set search_path = public, pg_temp as $$
declare
  v_column text;
  v_new jsonb := to_jsonb(new);
  v_old jsonb := case when tg_op = 'UPDATE' then to_jsonb(old) else null end;
begin
  foreach v_column in array tg_argv loop
    if v_new -> v_column <> 'null'::jsonb
       and (v_old is null or (v_old -> v_column) is distinct from (v_new -> v_column)) then
      raise exception 'plaintext personal data refused in %.%', tg_table_name, v_column
        using errcode = 'check_violation',
              hint = 'Seal it under the caller''s data key (Privacy/Vault.cs); see docs/data-inventory.md.';
    end if;
  end loop;
  return new;
end $$;
revoke all on function public.refuse_plaintext() from public, anon, authenticated, service_role;

create trigger calls_refuse_plaintext before insert or update on calls
  for each row execute function public.refuse_plaintext('report', 'summary', 'structured_data', 'success_evaluation', 'customer_number');
create trigger leads_refuse_plaintext before insert or update on leads
  for each row execute function public.refuse_plaintext('phone', 'name');
create trigger sms_messages_refuse_plaintext before insert or update on sms_messages
  for each row execute function public.refuse_plaintext('to_phone', 'body');
create trigger sms_opt_outs_refuse_plaintext before insert or update on sms_opt_outs
  for each row execute function public.refuse_plaintext('phone');

-- Spelled out per table for the migration checker (idempotent):
alter table clinic_keys force row level security;
alter table caller_keys force row level security;
