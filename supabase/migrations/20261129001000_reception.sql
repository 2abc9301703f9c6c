-- Reception (issue 17): opening hours and human handoff, callbacks, and the questions the knowledge
-- base could not answer. Rules live in src/Frontdesk/Reception/; docs/data-inventory.md lists every
-- column below with its export, erasure and retention.

-- Per clinic: when a person answers the phone, where the assistant transfers callers, and what it
-- says in an emergency. Times in opening_hours and dates in closures are the clinic's local ones
-- (clinics.timezone); the application validates their shape (Reception/ReceptionSettings.cs) and
-- computes "open now" and "next opening" in one place (Reception/OpeningHours.cs).
create table reception_settings (
  clinic_id              uuid primary key references clinics(id) on delete cascade,
  -- {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], …, "sun": []}
  opening_hours          jsonb not null default '{}'::jsonb check (jsonb_typeof(opening_hours) = 'object'),
  -- [{"date": "2026-12-25", "reason": "Christmas Day"}]
  closures               jsonb not null default '[]'::jsonb check (jsonb_typeof(closures) = 'array'),
  -- The front desk's line (E.164); null: no transfers, callers get a callback instead.
  transfer_number        text check (transfer_number ~ '^\+[1-9][0-9]{6,14}$'),
  transfer_mode          text not null default 'warm' check (transfer_mode in ('warm', 'blind')),
  -- Null: the default of the clinic's country (999 in the UK, 911 in the US, 112 elsewhere).
  emergency_instruction  text check (length(emergency_instruction) between 1 and 500),
  -- Null: the built-in offer of a consultation.
  consultation_offer     text check (length(consultation_offer) between 1 and 500),
  updated_at             timestamptz not null default now()
);
alter table reception_settings enable row level security;
alter table reception_settings force row level security;
create policy reception_settings_tenant on reception_settings for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
revoke all on table reception_settings from public, anon, authenticated, service_role;
grant select, insert, update on table reception_settings to authenticated;
grant select, insert, update, delete on table reception_settings to service_role;

-- A caller the clinic has to ring back: asked for it (request_callback), wanted a person while the
-- clinic was closed or had no transfer number, was transferred and the transfer did not connect, or
-- described an emergency (urgent). One row per call and kind (idempotent: a repeated tool call,
-- transfer request or end-of-call report adds nothing). The caller's number, the reason as said and
-- the preferred time are sealed under the caller's data key (content; caller_hash names the key);
-- `reason` is the same text with detected personal values replaced by placeholders, for lists.
create table callbacks (
  id           uuid not null default gen_random_uuid(),
  clinic_id    uuid not null references clinics(id) on delete cascade,
  call_id      text check (length(call_id) between 1 and 200),
  kind         text not null check (kind in ('callback', 'emergency')),
  source       text not null check (source in ('request', 'closed', 'no_transfer_number', 'transfer_failed', 'emergency')),
  caller_hash  bytea not null,
  content      bytea not null,
  reason       text not null check (length(reason) between 1 and 600),
  priority     text not null default 'normal' check (priority in ('normal', 'urgent')),
  status       text not null default 'open' check (status in ('open', 'done', 'no_answer')),
  note         bytea,                            -- staff note, sealed under the same caller key
  attempts     int not null default 0 check (attempts >= 0),
  handled_by   text check (length(handled_by) <= 200),
  handled_at   timestamptz,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  primary key (clinic_id, id),
  -- Idempotency per call and kind; calls without an id are never the same call (nulls are distinct).
  unique (clinic_id, call_id, kind)
);
create index callbacks_queue on callbacks (clinic_id, status, created_at);
create index callbacks_caller on callbacks (clinic_id, caller_hash);
alter table callbacks enable row level security;
alter table callbacks force row level security;
create policy callbacks_tenant on callbacks for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
revoke all on table callbacks from public, anon, authenticated, service_role;
-- delete: a patient's erasure (an admin's request) removes their callbacks; retention as service_role.
grant select, insert, update, delete on table callbacks to authenticated, service_role;

-- A question the knowledge base had no good passage for: what callers asked (with detected personal
-- values replaced by placeholders), how often and when last. Similar questions count up one open gap
-- (same normalized text, or trigram similarity — pg_trgm — above a threshold, decided under a
-- per-clinic advisory lock). Answering it saves a knowledge document (source gap:{id}) and closes it.
-- No trigram index: a clinic has tens or hundreds of open gaps, and a question is compared with
-- those only when the knowledge base failed to answer it.
create table knowledge_gaps (
  id              uuid not null default gen_random_uuid(),
  clinic_id       uuid not null references clinics(id) on delete cascade,
  question        text not null check (length(question) between 1 and 500),
  normalized      text not null check (length(normalized) between 1 and 500),
  asked_count     int not null default 1 check (asked_count >= 1),
  first_asked_at  timestamptz not null default now(),
  last_asked_at   timestamptz not null default now(),
  status          text not null default 'open' check (status in ('open', 'answered')),
  document_id     uuid,
  answered_by     text check (length(answered_by) <= 200),
  answered_at     timestamptz,
  primary key (clinic_id, id),
  foreign key (clinic_id, document_id) references knowledge_documents (clinic_id, id) on delete set null (document_id)
);
create index knowledge_gaps_by_status on knowledge_gaps (clinic_id, status, last_asked_at desc);
alter table knowledge_gaps enable row level security;
alter table knowledge_gaps force row level security;
create policy knowledge_gaps_tenant on knowledge_gaps for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
revoke all on table knowledge_gaps from public, anon, authenticated, service_role;
grant select, insert, update on table knowledge_gaps to authenticated;
grant select, insert, update, delete on table knowledge_gaps to service_role;
