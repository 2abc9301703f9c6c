-- SMS abuse limits (issue 14): per-clinic destination countries and a daily quota, enforced where
-- every SMS is enqueued (Messaging/SmsGuard.cs). Without them any clinic member, or anyone holding
-- a clinic's Vapi secret, could text any number in the world through the clinic's sender.

alter table clinics
  -- ISO 3166-1 alpha-2 codes a message may go to; null → the clinic's own countries (derived from
  -- its timezone and its sender number, SmsGuard.DefaultCountries). An empty array allows none.
  add column sms_allowed_countries text[]
    check (sms_allowed_countries is null
           or (cardinality(sms_allowed_countries) <= 250
               and array_to_string(sms_allowed_countries, ',', '?') ~ '^([A-Z]{2}(,[A-Z]{2})*)?$')),
  -- Messages a clinic may enqueue per local calendar day (0: none).
  add column sms_daily_quota int not null default 500 check (sms_daily_quota between 0 and 100000);

-- One counter per clinic and local day. The guard increments it with a conditional upsert in the
-- transaction that enqueues the message, so the row lock decides races and a rolled-back message
-- gives its unit back. Holds no personal data.
create table sms_daily_usage (
  clinic_id  uuid not null references clinics(id) on delete cascade,
  day        date not null,                 -- the clinic's local date
  sent       int not null default 0 check (sent >= 0),
  primary key (clinic_id, day)
);
alter table sms_daily_usage enable row level security;
alter table sms_daily_usage force row level security;
create policy sms_daily_usage_tenant on sms_daily_usage for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
revoke all on table sms_daily_usage from public, anon, authenticated, service_role;
grant select, insert, update on table sms_daily_usage to authenticated;
grant select, insert, update, delete on table sms_daily_usage to service_role;
