-- Google Calendar kept in step with the slot engine (issue 7).
-- The slot engine stays the source of truth for who holds a slot. Every booking change enqueues a
-- calendar job in the same transaction (triggers below, whatever code path changed the booking);
-- a worker applies it to Google. Busy time read back from Google sets calendar_slots.busy.

-- Which Google calendar mirrors a practitioner's diary (null: not linked).
alter table practitioners add column calendar_id text
  check (calendar_id is null or length(calendar_id) between 1 and 1024);

-- Where the booking stands in Google. calendar_event_id/_calendar describe the event that exists
-- in Google now (null: none). A deleted event's id can never be reused in that calendar, so each
-- delete bumps calendar_generation and the next event gets a new id.
alter table bookings
  add column calendar_status text check (calendar_status in ('pending', 'synced', 'deleted', 'failed')),
  add column calendar_error text,
  add column calendar_event_id text,
  add column calendar_event_calendar text,
  add column calendar_generation int not null default 0,
  add column calendar_synced_at timestamptz;

-- The outbox: at most one row per booking. A new change while a job is pending or being applied
-- bumps version, so a worker that finishes an older version leaves the row due (it re-reads the
-- booking and converges on its current state).
create table calendar_jobs (
  id               bigint generated always as identity primary key,
  clinic_id        uuid not null references clinics(id) on delete cascade,
  booking_id       uuid not null,
  op               text not null check (op in ('create', 'move', 'cancel', 'relink')),
  version          int not null default 1,
  attempts         int not null default 0,
  next_attempt_at  timestamptz not null default now(),
  -- A lease, not a row lock held across the HTTP call: a booking transaction never waits on Google.
  locked_until     timestamptz,
  done_at          timestamptz,
  last_error       text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  unique (clinic_id, booking_id),
  foreign key (clinic_id, booking_id) references bookings (clinic_id, id) on delete cascade
);
create index calendar_jobs_due on calendar_jobs (next_attempt_at) where done_at is null;
alter table calendar_jobs enable row level security;
alter table calendar_jobs force row level security;
create policy calendar_jobs_tenant on calendar_jobs for all to authenticated
  using (clinic_id = (select public.request_clinic_id()))
  with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on calendar_jobs to authenticated, service_role;

-- Sync state per linked practitioner calendar (busy time read back, push channel).
create table calendar_syncs (
  clinic_id            uuid not null references clinics(id) on delete cascade,
  practitioner_id      uuid not null,
  calendar_id          text not null,
  -- pending: never synced; ok: busy flags match Google as of last_synced_at; unknown: the last
  -- attempt failed, busy flags are the last known state.
  state                text not null default 'pending' check (state in ('pending', 'ok', 'unknown')),
  last_synced_at       timestamptz,
  last_attempt_at      timestamptz,
  last_error           text,
  sync_token           text,
  next_sync_at         timestamptz not null default now(),
  sync_requested_at    timestamptz,            -- last push notification
  locked_until         timestamptz,
  channel_id           text unique,
  channel_token        text,
  channel_resource_id  text,
  channel_expires_at   timestamptz,
  primary key (clinic_id, practitioner_id),
  foreign key (clinic_id, practitioner_id) references practitioners (clinic_id, id) on delete cascade
);
create index calendar_syncs_due on calendar_syncs (next_sync_at);
alter table calendar_syncs enable row level security;
alter table calendar_syncs force row level security;
create policy calendar_syncs_tenant on calendar_syncs for all to authenticated
  using (clinic_id = (select public.request_clinic_id()))
  with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on calendar_syncs to authenticated, service_role;

-- The events of a linked calendar as events.list last reported them (incremental sync). Only
-- timed, single (non-recurring) events are kept; booking_id is the frontdeskBookingId private
-- property, so Frontdesk's own events are recognised and never block their own slot.
create table calendar_events (
  clinic_id        uuid not null references clinics(id) on delete cascade,
  practitioner_id  uuid not null,
  event_id         text not null,
  starts_at        timestamptz not null,
  ends_at          timestamptz not null,
  transparent      boolean not null default false,
  booking_id       uuid,
  primary key (clinic_id, practitioner_id, event_id),
  foreign key (clinic_id, practitioner_id) references calendar_syncs (clinic_id, practitioner_id) on delete cascade
);
alter table calendar_events enable row level security;
alter table calendar_events force row level security;
create policy calendar_events_tenant on calendar_events for all to authenticated
  using (clinic_id = (select public.request_clinic_id()))
  with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on calendar_events to authenticated, service_role;

-- Marks a booking pending when it has, or should have, an event: its practitioner is linked, or
-- an event exists from before (a cancel or an unlink must still delete it).
create or replace function public.calendar_mark_pending() returns trigger language plpgsql as $$
begin
  if new.calendar_event_id is not null
     or exists (select 1 from practitioners p
                 where p.clinic_id = new.clinic_id and p.id = new.practitioner_id and p.calendar_id is not null) then
    new.calendar_status := 'pending';
    new.calendar_error := null;
  end if;
  return new;
end $$;

-- Enqueues (or re-arms) the booking's job in the booking's own transaction: a crash after commit
-- loses nothing, and a rolled-back booking leaves no job. NOTIFY wakes workers on every instance.
create or replace function public.calendar_enqueue() returns trigger language plpgsql as $$
declare
  v_op text := case when tg_op = 'INSERT' then 'create'
                    when new.status = 'cancelled' then 'cancel'
                    else 'move' end;
begin
  insert into calendar_jobs (clinic_id, booking_id, op) values (new.clinic_id, new.id, v_op)
  on conflict (clinic_id, booking_id) do update
     set op = excluded.op, version = calendar_jobs.version + 1, attempts = 0, next_attempt_at = now(),
         done_at = null, last_error = null, updated_at = now();
  perform pg_notify('frontdesk_calendar', '');
  return null;
end $$;

create trigger bookings_calendar_mark_insert before insert on bookings
  for each row execute function public.calendar_mark_pending();
create trigger bookings_calendar_mark_update before update of status, slot_id, starts_at, ends_at, practitioner_id on bookings
  for each row when (old.status is distinct from new.status or old.starts_at is distinct from new.starts_at
                     or old.ends_at is distinct from new.ends_at or old.practitioner_id is distinct from new.practitioner_id)
  execute function public.calendar_mark_pending();
create trigger bookings_calendar_enqueue_insert after insert on bookings
  for each row when (new.calendar_status = 'pending') execute function public.calendar_enqueue();
create trigger bookings_calendar_enqueue_update after update of status, slot_id, starts_at, ends_at, practitioner_id on bookings
  for each row when (new.calendar_status = 'pending'
                     and (old.status is distinct from new.status or old.starts_at is distinct from new.starts_at
                          or old.ends_at is distinct from new.ends_at or old.practitioner_id is distinct from new.practitioner_id))
  execute function public.calendar_enqueue();

-- Linking, relinking or unlinking a practitioner's calendar re-arms the jobs of their future
-- bookings and of any booking whose event sits in another calendar; the worker converges each.
create or replace function public.calendar_relink(p_clinic_id uuid, p_practitioner_id uuid) returns int
language plpgsql as $$
declare
  v_count int;
begin
  update bookings b set calendar_status = 'pending', calendar_error = null
   where b.clinic_id = p_clinic_id and b.practitioner_id = p_practitioner_id
     and ((b.status = 'confirmed' and b.ends_at > now()) or b.calendar_event_id is not null);
  insert into calendar_jobs (clinic_id, booking_id, op)
  select b.clinic_id, b.id, 'relink' from bookings b
   where b.clinic_id = p_clinic_id and b.practitioner_id = p_practitioner_id and b.calendar_status = 'pending'
  on conflict (clinic_id, booking_id) do update
     set op = 'relink', version = calendar_jobs.version + 1, attempts = 0, next_attempt_at = now(),
         done_at = null, last_error = null, updated_at = now();
  get diagnostics v_count = row_count;
  perform pg_notify('frontdesk_calendar', '');
  return v_count;
end $$;
grant execute on function public.calendar_relink(uuid, uuid) to authenticated, service_role;
revoke execute on function public.calendar_relink(uuid, uuid) from public;
