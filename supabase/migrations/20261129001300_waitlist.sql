-- Waitlist (issue 18): patients who found no suitable time wait for one; a slot that frees up is
-- offered by SMS to the first matching entry, held for it for a while, and booked when claimed.
--
-- "A slot frees up" is decided here, at the database, whatever code path freed it: a trigger on
-- calendar_slots writes a 'waitlist_slot' outbox job in the freeing transaction when a booking is
-- cancelled or moved away (claimed_by cleared), when the calendar sync clears its busy flag, when
-- a live hold is released early, and — since a hold lapses by the clock, with no write at all — at
-- the moment any hold (a caller's, or a waitlist offer's) runs out. The job's handler
-- (Waitlist/WaitlistOffers.cs) locks the slot and decides: still free → offer it; otherwise nothing.
-- Clinics with nobody waiting pay one indexed EXISTS per freed slot and get no job.

-- SMS purpose 'offer' --------------------------------------------------------------------------------
-- A waitlist offer has its own usefulness window (an offer delivered after its hold lapsed only
-- confuses) and keeps quiet hours. Added to whatever list the constraint has by now, so another
-- migration widening it in parallel keeps its values.
do $$
declare
  v_name text;
  v_values text[];
begin
  select c.conname, array(select m[1] from regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g') as m)
    into v_name, v_values
    from pg_constraint c
   where c.conrelid = 'public.sms_messages'::regclass and c.contype = 'c'
     and pg_get_constraintdef(c.oid) like '%purpose%';
  if v_name is null then
    raise exception 'sms_messages has no purpose check';
  end if;
  if not 'offer' = any(v_values) then
    execute format('alter table sms_messages drop constraint %I', v_name);
    execute format('alter table sms_messages add constraint %I check (purpose = any (%L::text[]))', v_name, v_values || 'offer'::text);
  end if;
end $$;

-- Entries ---------------------------------------------------------------------------------------------
-- No free text: the procedure is a row of the clinic's catalog, the practitioner a row, the window
-- two instants, the part of day one of three words. status: waiting → offered (an offer is open) →
-- booked | removed (staff) | expired (past expires_at, set by its expiry job). A lapsed offer puts
-- the entry back to waiting.
create table waitlist_entries (
  clinic_id        uuid not null references clinics(id) on delete cascade,
  id               uuid not null default gen_random_uuid(),
  patient_id       uuid not null,
  procedure_id     uuid,
  practitioner_id  uuid,
  from_at          timestamptz,            -- earliest start wanted (null: any time from now)
  to_at            timestamptz,            -- latest start wanted, exclusive (null: until expires_at)
  part_of_day      text check (part_of_day in ('morning', 'afternoon', 'evening')),
  expires_at       timestamptz not null,   -- the entry's latest date (end of to_at's day, or a default horizon)
  status           text not null default 'waiting' check (status in ('waiting', 'offered', 'booked', 'removed', 'expired')),
  source           text not null check (source in ('voice', 'staff')),
  call_id          text check (length(call_id) between 1 and 200),
  booking_id       uuid,
  created_at       timestamptz not null default now(),
  closed_at        timestamptz,
  primary key (clinic_id, id),
  check (to_at is null or from_at is null or to_at > from_at),
  check ((status in ('waiting', 'offered')) = (closed_at is null)),
  -- An erased patient's entries go with them (PatientData.EraseAsync deletes them first; the
  -- tombstone row is never deleted, but a deleted patient would take its entries along).
  foreign key (clinic_id, patient_id) references patients (clinic_id, id) on delete cascade,
  foreign key (clinic_id, procedure_id) references clinic_procedures (clinic_id, id) on delete set null (procedure_id),
  foreign key (clinic_id, practitioner_id) references practitioners (clinic_id, id) on delete cascade,
  -- NO ACTION like the other keys to bookings: a clinic's deletion removes both in one cascade.
  foreign key (clinic_id, booking_id) references bookings (clinic_id, id)
);
-- The offer handler's scan: a clinic's open entries in arrival order.
create index waitlist_entries_open on waitlist_entries (clinic_id, created_at) where status in ('waiting', 'offered');
create index waitlist_entries_patient on waitlist_entries (clinic_id, patient_id);
alter table waitlist_entries enable row level security;
alter table waitlist_entries force row level security;
create policy waitlist_entries_tenant on waitlist_entries for all to authenticated
  using (clinic_id = (select public.request_clinic_id()))
  with check (clinic_id = (select public.request_clinic_id()));
revoke all on table waitlist_entries from public, anon, authenticated, service_role;
grant select, insert, update, delete on table waitlist_entries to authenticated, service_role;

-- Offers ----------------------------------------------------------------------------------------------
-- One freed slot offered to one entry, held for it (calendar_slots.hold_holder = 'waitlist:' || id)
-- until expires_at. status: open → claimed | lapsed (not claimed in time) | withdrawn (entry removed
-- or patient erased). A lapsed offer stays for the staff work queue until a person acknowledges it.
create table waitlist_offers (
  clinic_id        uuid not null references clinics(id) on delete cascade,
  id               uuid not null default gen_random_uuid(),
  entry_id         uuid not null,
  slot_id          uuid not null,
  status           text not null default 'open' check (status in ('open', 'claimed', 'lapsed', 'withdrawn')),
  offered_at       timestamptz not null default now(),
  expires_at       timestamptz not null,
  message_id       uuid,                   -- the offer SMS (sms_messages.id; gone when the recipient is erased)
  booking_id       uuid,
  closed_at        timestamptz,
  acknowledged_at  timestamptz,            -- a person saw the lapsed offer in the work queue
  acknowledged_by  text check (length(acknowledged_by) between 1 and 200),
  primary key (clinic_id, id),
  check ((status = 'open') = (closed_at is null)),
  foreign key (clinic_id, entry_id) references waitlist_entries (clinic_id, id) on delete cascade,
  foreign key (clinic_id, slot_id) references calendar_slots (clinic_id, id) on delete cascade,
  foreign key (clinic_id, booking_id) references bookings (clinic_id, id)
);
-- At most one open offer per slot and per entry; and an entry is offered a given slot once, so a
-- lapse never offers the same time straight back to the patient who let it go.
create unique index waitlist_offers_open_slot on waitlist_offers (clinic_id, slot_id) where status = 'open';
create unique index waitlist_offers_open_entry on waitlist_offers (clinic_id, entry_id) where status = 'open';
create unique index waitlist_offers_once on waitlist_offers (clinic_id, entry_id, slot_id);
create index waitlist_offers_lapsed on waitlist_offers (clinic_id, closed_at) where status = 'lapsed' and acknowledged_at is null;
alter table waitlist_offers enable row level security;
alter table waitlist_offers force row level security;
create policy waitlist_offers_tenant on waitlist_offers for all to authenticated
  using (clinic_id = (select public.request_clinic_id()))
  with check (clinic_id = (select public.request_clinic_id()));
revoke all on table waitlist_offers from public, anon, authenticated, service_role;
grant select, insert, update, delete on table waitlist_offers to authenticated, service_role;

-- The signal ------------------------------------------------------------------------------------------
-- Security invoker: it runs with the claims of whatever freed the slot (a clinic's request, the
-- booking page, a worker as service_role) and RLS applies to its EXISTS and its insert.
-- No NOTIFY (a writer's commit must not take the cluster-wide notify lock): the outbox worker polls,
-- and application paths that free slots signal it after commit.
create or replace function public.waitlist_slot_freed() returns trigger language plpgsql as $$
declare
  v_at timestamptz;
begin
  if new.starts_at <= now() then
    return null;
  end if;
  if (old.claimed_by is not null and new.claimed_by is null)
     or (old.busy and not new.busy)
     or (old.hold_expires_at > now() and new.claimed_by is null
         and (new.hold_expires_at is null or new.hold_expires_at <= now())) then
    v_at := now();
  elsif new.claimed_by is null and new.hold_expires_at > now()
        and new.hold_expires_at is distinct from old.hold_expires_at then
    -- A hold lapses by the clock: look again when it runs out (a claim before then makes it moot).
    v_at := new.hold_expires_at;
  else
    return null;
  end if;
  if not exists (select 1 from waitlist_entries e
                  where e.clinic_id = new.clinic_id and e.status in ('waiting', 'offered') and e.expires_at > now()) then
    return null;
  end if;
  insert into outbox (clinic_id, kind, payload, next_attempt_at, due_at)
  values (new.clinic_id, 'waitlist_slot', jsonb_build_object('slotId', new.id), v_at, v_at);
  return null;
end $$;
revoke all on function public.waitlist_slot_freed() from public, anon, authenticated, service_role;

create trigger calendar_slots_waitlist after update of claimed_by, busy, hold_expires_at on calendar_slots
  for each row execute function public.waitlist_slot_freed();

-- Spelled out per table for the migration checker:
alter table waitlist_entries force row level security;
alter table waitlist_offers force row level security;
