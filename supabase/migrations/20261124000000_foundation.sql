-- Foundation: Supabase-compatible roles and claims, clinics and their data, the audit chain.
-- Runs on a bare PostgreSQL ≥ 15 and on Supabase: anything Supabase already provides is created
-- only where missing, never replaced.

create extension if not exists btree_gist;

-- Roles ------------------------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  -- The application's login: neither superuser nor owner of any table. NOINHERIT, so it holds no
  -- privilege of its own and every query must first switch to authenticated or service_role
  -- (Supabase's `authenticator` works the same way).
  if not exists (select 1 from pg_roles where rolname = 'frontdesk_app') then
    create role frontdesk_app login noinherit nosuperuser nocreatedb nocreaterole;
  end if;
end $$;

grant anon, authenticated, service_role to frontdesk_app;

-- /healthz compares the applied migrations (recorded by the migrator) with the embedded ones.
-- frontdesk.schema_migrations holds no clinic data, so it has no RLS.
create schema if not exists frontdesk;
create table if not exists frontdesk.schema_migrations (version text primary key, applied_at timestamptz not null default now());
grant usage on schema frontdesk to service_role;
grant select on frontdesk.schema_migrations to service_role;

-- Claims -----------------------------------------------------------------------------------------
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

do $$
begin
  if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'auth' and p.proname = 'jwt') then
    -- Same body as Supabase's.
    execute $f$
      create function auth.jwt() returns jsonb language sql stable as $b$
        select coalesce(
          nullif(current_setting('request.jwt.claim', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb
      $b$ $f$;
  end if;
  if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'auth' and p.proname = 'uid') then
    execute $f$
      create function auth.uid() returns uuid language sql stable as $b$
        select coalesce(
          nullif(current_setting('request.jwt.claim.sub', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
        )::uuid
      $b$ $f$;
  end if;
end $$;

grant execute on function auth.jwt() to anon, authenticated, service_role;
grant execute on function auth.uid() to anon, authenticated, service_role;

-- The caller's clinic, from the token. A function so policies read as one line; `stable` and
-- wrapped in (select …) by the policies so it is evaluated once per statement, not per row.
create or replace function public.request_clinic_id() returns uuid
language sql stable as $$
  select nullif(auth.jwt() ->> 'org_id', '')::uuid
$$;
grant execute on function public.request_clinic_id() to anon, authenticated, service_role;

grant usage on schema public to anon, authenticated, service_role;

-- Clinics ----------------------------------------------------------------------------------------
create table clinics (
  id                    uuid primary key default gen_random_uuid(),
  name                  text not null check (length(name) between 1 and 200),
  timezone              text not null default 'Europe/London',
  sms_from              text,
  vapi_assistant_id     text unique,
  vapi_phone_number_id  text unique,
  vapi_secret           text,
  created_at            timestamptz not null default now()
);
-- A clinic row is its own tenant: clinic_id is id.
alter table clinics enable row level security;
alter table clinics force row level security;
create policy clinics_tenant on clinics for all to authenticated
  using (id = (select public.request_clinic_id()))
  with check (id = (select public.request_clinic_id()));

create table practitioners (
  id          uuid primary key default gen_random_uuid(),
  clinic_id   uuid not null references clinics(id) on delete cascade,
  name        text not null check (length(name) between 1 and 200),
  created_at  timestamptz not null default now(),
  unique (clinic_id, id)
);

create table patients (
  id          uuid primary key default gen_random_uuid(),
  clinic_id   uuid not null references clinics(id) on delete cascade,
  name        text,
  phone       text,                     -- E.164
  email       text,
  created_at  timestamptz not null default now(),
  erased_at   timestamptz,
  unique (clinic_id, id)
);
create index patients_clinic_phone on patients (clinic_id, phone) where erased_at is null;

create table calendar_slots (
  id               uuid primary key default gen_random_uuid(),
  clinic_id        uuid not null references clinics(id) on delete cascade,
  practitioner_id  uuid not null,
  starts_at        timestamptz not null,
  ends_at          timestamptz not null,
  claimed_by       uuid,
  claimed_at       timestamptz,
  hold_holder      text,
  hold_expires_at  timestamptz,
  -- Busy in the practitioner's linked calendar (kept in step by the calendar sync).
  busy             boolean not null default false,
  created_at       timestamptz not null default now(),
  check (ends_at > starts_at),
  unique (clinic_id, id),
  -- Composite keys: a row can only point at rows of its own clinic. Foreign-key checks ignore
  -- RLS, so a plain key would let clinic A attach clinic B's patient.
  foreign key (clinic_id, practitioner_id) references practitioners (clinic_id, id) on delete cascade,
  foreign key (clinic_id, claimed_by) references patients (clinic_id, id) on delete set null (claimed_by),
  -- One practitioner cannot have two overlapping slots: generation over an existing range is a 409.
  constraint calendar_slots_no_overlap exclude using gist
    (practitioner_id with =, tstzrange(starts_at, ends_at) with &&)
);
create index calendar_slots_clinic_start on calendar_slots (clinic_id, starts_at);

create table bookings (
  id               uuid primary key default gen_random_uuid(),
  clinic_id        uuid not null references clinics(id) on delete cascade,
  slot_id          uuid not null,
  patient_id       uuid,
  practitioner_id  uuid not null,
  starts_at        timestamptz not null,
  ends_at          timestamptz not null,
  status           text not null default 'confirmed' check (status in ('confirmed', 'cancelled')),
  source           text not null default 'api',
  call_id          text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  cancelled_at     timestamptz,
  check (ends_at > starts_at),
  unique (clinic_id, id),
  -- NO ACTION rather than RESTRICT: deleting a whole clinic removes its slots and bookings in one
  -- cascade, and NO ACTION checks at the end of that statement, RESTRICT at each row.
  foreign key (clinic_id, slot_id) references calendar_slots (clinic_id, id),
  foreign key (clinic_id, patient_id) references patients (clinic_id, id) on delete set null (patient_id),
  foreign key (clinic_id, practitioner_id) references practitioners (clinic_id, id)
);
create index bookings_clinic on bookings (clinic_id, starts_at);
-- At most one live booking per slot, whatever the code above it does.
create unique index bookings_one_live_per_slot on bookings (slot_id) where status <> 'cancelled';
-- No two live bookings of one practitioner overlap in time.
alter table bookings add constraint bookings_no_overlap exclude using gist
  (practitioner_id with =, tstzrange(starts_at, ends_at) with &&) where (status <> 'cancelled');

-- Audit trail: append-only, tamper-evident ------------------------------------------------------
create table audit_trail (
  id          bigint generated always as identity primary key,
  clinic_id   uuid not null references clinics(id) on delete cascade,
  -- seq, prev_hash and hash are set when the inserting transaction commits (audit_seal below);
  -- no committed row lacks them.
  seq         bigint,
  at          timestamptz not null default clock_timestamp(),
  actor       text not null,
  action      text not null,
  entity      text,
  entity_id   text,
  detail      jsonb not null default '{}'::jsonb,
  prev_hash   bytea,
  hash        bytea,
  unique (clinic_id, seq)
);
create index audit_trail_clinic_seq on audit_trail (clinic_id, seq desc);

-- The canonical content a row's hash covers. Time as epoch microseconds so the session's
-- TimeZone or DateStyle cannot change the digest.
create or replace function public.audit_row_digest(
  p_prev bytea, p_clinic uuid, p_seq bigint, p_at timestamptz, p_actor text, p_action text,
  p_entity text, p_entity_id text, p_detail jsonb) returns bytea
language sql immutable as $$
  select sha256(p_prev || convert_to(concat_ws(chr(31),
    p_clinic::text, p_seq::text, (extract(epoch from p_at) * 1000000)::bigint::text,
    p_actor, p_action, coalesce(p_entity, ''), coalesce(p_entity_id, ''), p_detail::text), 'UTF8'))
$$;

-- Chains each row to the previous row of its clinic, at commit time. The advisory lock serializes
-- sealing per clinic so seq and prev_hash come from the row committed just before. Sealing in a
-- deferred trigger rather than at insert keeps the lock for the commit alone: held from the insert,
-- it would also cover the client's round trip to send COMMIT, and concurrent bookings of one clinic
-- would queue behind it.
create or replace function public.audit_seal() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  v_prev record;
  v_seq bigint;
  v_prev_hash bytea;
  v_at timestamptz := clock_timestamp();
begin
  perform pg_advisory_xact_lock(hashtextextended('audit:' || new.clinic_id::text, 0));
  select seq, hash into v_prev from audit_trail
   where clinic_id = new.clinic_id and seq is not null order by seq desc limit 1;
  v_seq := coalesce(v_prev.seq, 0) + 1;
  v_prev_hash := coalesce(v_prev.hash, '\x'::bytea);
  update audit_trail
     set seq = v_seq, prev_hash = v_prev_hash, at = v_at,
         hash = public.audit_row_digest(v_prev_hash, new.clinic_id, v_seq, v_at, new.actor, new.action,
                                        new.entity, new.entity_id, new.detail)
   where id = new.id;
  return null;
end $$;
create constraint trigger audit_seal after insert on audit_trail
  deferrable initially deferred for each row execute function public.audit_seal();

-- First broken link of a clinic's chain (null when the chain verifies).
create or replace function public.audit_verify(p_clinic_id uuid)
returns table (broken_seq bigint, reason text)
language plpgsql stable as $$
declare
  r record;
  v_prev bytea := '\x'::bytea;
  v_expected_seq bigint := 1;
begin
  for r in select * from audit_trail where clinic_id = p_clinic_id order by seq loop
    if r.seq <> v_expected_seq then
      broken_seq := v_expected_seq; reason := 'missing row'; return next; return;
    end if;
    if r.prev_hash <> v_prev then
      broken_seq := r.seq; reason := 'previous hash does not match'; return next; return;
    end if;
    if r.hash <> public.audit_row_digest(r.prev_hash, r.clinic_id, r.seq, r.at, r.actor, r.action,
                                         r.entity, r.entity_id, r.detail) then
      broken_seq := r.seq; reason := 'content does not match its hash'; return next; return;
    end if;
    v_prev := r.hash;
    v_expected_seq := v_expected_seq + 1;
  end loop;
end $$;
grant execute on function public.audit_verify(uuid) to authenticated, service_role;

-- Row-level security on every clinic table -------------------------------------------------------
do $$
declare
  t text;
begin
  foreach t in array array['practitioners', 'patients', 'calendar_slots', 'bookings', 'audit_trail'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy %I on %I for all to authenticated
                      using (clinic_id = (select public.request_clinic_id()))
                      with check (clinic_id = (select public.request_clinic_id()))$p$,
                   t || '_tenant', t);
  end loop;
end $$;
-- The hook that checks migrations looks for these statements spelled out, so say them once more
-- for each table (idempotent):
alter table practitioners force row level security;
alter table patients force row level security;
alter table calendar_slots force row level security;
alter table bookings force row level security;
alter table audit_trail force row level security;

-- Clinics are created by service_role only; members may read and update their own.
grant select, update on clinics to authenticated;
grant select, insert, update, delete on clinics to service_role;
grant select, insert, update, delete on practitioners, patients, calendar_slots, bookings
  to authenticated, service_role;
-- Append-only for the application: no UPDATE or DELETE grant, for anyone.
grant select, insert on audit_trail to authenticated, service_role;
