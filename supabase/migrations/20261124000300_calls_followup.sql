-- Calls and the hang-up follow-up (seed task 2): Vapi events (idempotent intake), calls, leads,
-- follow-ups, SMS messages, opt-outs, per-clinic follow-up settings and procedure catalog, and a
-- generic outbox that workers drain with FOR UPDATE SKIP LOCKED.

-- Clinic settings ---------------------------------------------------------------------------------
alter table clinics
  -- Vapi HMAC signing (x-signature over "{timestamp}.{body}", SHA-256 hex, keyed by vapi_secret).
  add column vapi_hmac             boolean not null default false,
  -- The agent follow-ups are assigned to and who signs the SMS.
  add column followup_agent        text not null default 'sarah_outbound' check (length(followup_agent) between 1 and 100),
  add column followup_agent_name   text not null default 'Sarah' check (length(followup_agent_name) between 1 and 100),
  -- null → the seed's template (FollowUp/SmsTemplate.cs).
  add column sms_template          text check (length(sms_template) between 1 and 1600),
  -- A voicemail reached no person: follow up only when the clinic asks for it.
  add column followup_on_voicemail boolean not null default false,
  -- Optional quiet hours in the clinic's timezone (both set or both null; off by default).
  add column quiet_start           time,
  add column quiet_end             time,
  add constraint clinics_quiet_hours_both check ((quiet_start is null) = (quiet_end is null));

-- Procedure catalog: names, spoken synonyms and guide links per clinic ----------------------------
create table clinic_procedures (
  id          uuid primary key default gen_random_uuid(),
  clinic_id   uuid not null references clinics(id) on delete cascade,
  name        text not null check (length(name) between 1 and 100),
  synonyms    text[] not null default '{}',
  guide_path  text check (length(guide_path) between 1 and 500),   -- absolute URL or a path under FRONTDESK_PUBLIC_BASE_URL
  created_at  timestamptz not null default now(),
  unique (clinic_id, id)
);
create unique index clinic_procedures_clinic_name on clinic_procedures (clinic_id, lower(name));
alter table clinic_procedures enable row level security;
alter table clinic_procedures force row level security;
create policy clinic_procedures_tenant on clinic_procedures for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on clinic_procedures to authenticated, service_role;

-- The seed's catalog for every clinic, existing and new. Security definer: a clinic is created by
-- service_role or the owner, and its defaults must land whatever the creator's claims say.
create or replace function public.seed_clinic_procedures() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  insert into clinic_procedures (clinic_id, name, synonyms, guide_path) values
    (new.id, 'Rhinoplasty', array['nose job', 'nose reshaping', 'nose surgery', 'rhino'], '/guides/rhinoplasty-guide.pdf'),
    (new.id, 'Liquid Rhinoplasty', array['liquid rhino', 'non-surgical rhinoplasty', 'non surgical rhinoplasty', 'non-surgical nose job', 'non surgical nose job', 'liquid nose job'], '/guides/liquid-rhino-guide.pdf'),
    (new.id, 'Facelift', array['face lift', 'face-lift', 'facial rejuvenation surgery'], '/guides/facelift-guide.pdf'),
    (new.id, 'Breast Augmentation', array['breast aug', 'breast enlargement', 'boob job', 'breast implants', 'augmentation'], '/guides/breast-aug-guide.pdf')
  on conflict do nothing;
  return new;
end $$;
create trigger clinics_seed_procedures after insert on clinics for each row execute function public.seed_clinic_procedures();
insert into clinic_procedures (clinic_id, name, synonyms, guide_path)
select c.id, v.name, v.synonyms, v.guide_path
from clinics c cross join (values
    ('Rhinoplasty', array['nose job', 'nose reshaping', 'nose surgery', 'rhino'], '/guides/rhinoplasty-guide.pdf'),
    ('Liquid Rhinoplasty', array['liquid rhino', 'non-surgical rhinoplasty', 'non surgical rhinoplasty', 'non-surgical nose job', 'non surgical nose job', 'liquid nose job'], '/guides/liquid-rhino-guide.pdf'),
    ('Facelift', array['face lift', 'face-lift', 'facial rejuvenation surgery'], '/guides/facelift-guide.pdf'),
    ('Breast Augmentation', array['breast aug', 'breast enlargement', 'boob job', 'breast implants', 'augmentation'], '/guides/breast-aug-guide.pdf')
  ) as v(name, synonyms, guide_path)
on conflict do nothing;

-- Vapi events: one row per (call, type, discriminator) — the idempotency key -----------------------
-- The discriminator is the tool call id for tool calls, the status for status updates, '' else.
-- A repeat returns the stored response; a row claimed but never answered (crash) can be re-claimed
-- after a lease, so a retried end-of-call report is never lost either.
create table vapi_events (
  id             bigint generated always as identity primary key,
  clinic_id      uuid not null references clinics(id) on delete cascade,
  call_id        text not null check (length(call_id) between 1 and 200),
  type           text not null check (length(type) between 1 and 100),
  discriminator  text not null default '' check (length(discriminator) <= 300),
  event_at       timestamptz,                -- the message's own timestamp (ISO or epoch ms)
  received_at    timestamptz not null default now(),
  claimed_at     timestamptz not null default now(),
  response       jsonb,                      -- null while being processed
  unique (clinic_id, call_id, type, discriminator)
);
alter table vapi_events enable row level security;
alter table vapi_events force row level security;
create policy vapi_events_tenant on vapi_events for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on vapi_events to authenticated, service_role;

-- Calls: what we know about each call, including the full end-of-call report ----------------------
create table calls (
  id               uuid primary key default gen_random_uuid(),
  clinic_id        uuid not null references clinics(id) on delete cascade,
  call_id          text not null check (length(call_id) between 1 and 200),
  customer_number  text,                     -- E.164 when valid
  status           text,
  ended_reason     text,
  started_at       timestamptz,
  ended_at         timestamptz,
  cost             numeric,
  summary          text,
  structured_data  jsonb,
  success_evaluation text,
  report           jsonb,                    -- the whole end-of-call-report message (artifact.performanceMetrics included)
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  unique (clinic_id, call_id)
);
alter table calls enable row level security;
alter table calls force row level security;
create policy calls_tenant on calls for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on calls to authenticated, service_role;

-- Opt-outs per clinic and number (STOP, Twilio 21610) ---------------------------------------------
create table sms_opt_outs (
  clinic_id   uuid not null references clinics(id) on delete cascade,
  phone       text not null,                 -- E.164
  source      text not null,
  created_at  timestamptz not null default now(),
  primary key (clinic_id, phone)
);
alter table sms_opt_outs enable row level security;
alter table sms_opt_outs force row level security;
create policy sms_opt_outs_tenant on sms_opt_outs for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on sms_opt_outs to authenticated, service_role;

-- Leads and follow-ups ----------------------------------------------------------------------------
create table leads (
  id            uuid primary key default gen_random_uuid(),
  clinic_id     uuid not null references clinics(id) on delete cascade,
  call_id       text not null check (length(call_id) between 1 and 200),
  external_ref  text check (length(external_ref) <= 200),   -- the seed's leadId, when given
  phone         text not null,               -- E.164
  name          text,
  procedure     text not null,
  source        text not null,               -- 'vapi' | 'trigger_followup_sms'
  patient_id    uuid,
  created_at    timestamptz not null default now(),
  unique (clinic_id, id),
  -- One lead per call: a replayed webhook finds the first one.
  unique (clinic_id, call_id),
  foreign key (clinic_id, patient_id) references patients (clinic_id, id) on delete set null (patient_id)
);
alter table leads enable row level security;
alter table leads force row level security;
create policy leads_tenant on leads for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on leads to authenticated, service_role;

create table lead_followups (
  id              uuid primary key default gen_random_uuid(),
  clinic_id       uuid not null references clinics(id) on delete cascade,
  lead_id         uuid not null,
  procedure       text not null,
  channel         text not null default 'SMS' check (channel in ('SMS')),
  template        text not null,             -- e.g. 'rhinoplasty-guide'
  assigned_agent  text not null,
  pdf_link        text,
  booking_link    text,
  status          text not null default 'queued' check (status in ('queued', 'sent', 'failed')),
  created_at      timestamptz not null default now(),
  unique (clinic_id, id),
  unique (clinic_id, lead_id),
  foreign key (clinic_id, lead_id) references leads (clinic_id, id) on delete cascade
);
alter table lead_followups enable row level security;
alter table lead_followups force row level security;
create policy lead_followups_tenant on lead_followups for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on lead_followups to authenticated, service_role;

-- Outgoing SMS ------------------------------------------------------------------------------------
create table sms_messages (
  id             uuid primary key default gen_random_uuid(),
  clinic_id      uuid not null references clinics(id) on delete cascade,
  followup_id    uuid,
  to_phone       text not null,
  body           text not null check (length(body) between 1 and 1600),
  segments       int not null,
  encoding       text not null check (encoding in ('GSM-7', 'UCS-2')),
  -- queued → sending (attempt recorded before the request) → accepted/sent/delivered… or failed;
  -- unknown: the request may have reached Twilio but no answer came — held for manual review,
  -- never resent automatically (Twilio has no idempotency key).
  status         text not null default 'queued',
  twilio_sid     text unique,
  error_code     int,
  error_message  text,
  attempts       int not null default 0,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  unique (clinic_id, id),
  foreign key (clinic_id, followup_id) references lead_followups (clinic_id, id) on delete cascade
);
create index sms_messages_clinic on sms_messages (clinic_id, created_at);
alter table sms_messages enable row level security;
alter table sms_messages force row level security;
create policy sms_messages_tenant on sms_messages for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on sms_messages to authenticated, service_role;

-- Outbox: durable jobs for workers (SMS now, calendar later) --------------------------------------
create table outbox (
  id               bigint generated always as identity primary key,
  clinic_id        uuid not null references clinics(id) on delete cascade,
  kind             text not null check (length(kind) between 1 and 50),
  payload          jsonb not null default '{}'::jsonb,
  status           text not null default 'pending' check (status in ('pending', 'processing', 'done', 'failed', 'review')),
  attempts         int not null default 0,
  next_attempt_at  timestamptz not null default now(),
  locked_until     timestamptz,
  last_error       text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
create index outbox_clinic on outbox (clinic_id, created_at);
-- What the workers scan: only live rows, by due time.
create index outbox_due on outbox (next_attempt_at) where status in ('pending', 'processing');
alter table outbox enable row level security;
alter table outbox force row level security;
create policy outbox_tenant on outbox for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on outbox to authenticated, service_role;

-- Wakes every instance's worker when a job commits (NOTIFY is delivered at commit).
create or replace function public.outbox_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('frontdesk_outbox', '');
  return null;
end $$;
create trigger outbox_notify after insert on outbox for each statement execute function public.outbox_notify();

-- Spelled out per table for the migration checker (idempotent):
alter table clinic_procedures force row level security;
alter table vapi_events force row level security;
alter table calls force row level security;
alter table sms_opt_outs force row level security;
alter table leads force row level security;
alter table lead_followups force row level security;
alter table sms_messages force row level security;
alter table outbox force row level security;
