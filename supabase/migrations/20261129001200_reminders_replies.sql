-- Between calls (issue 18): appointment reminders, the patient's replies to them, attendance (no-shows),
-- and what the figures count.
--
-- Reminders are armed by the database, where every booking path goes through (voice tools, booking
-- page, API, staff console, waitlist, manage page): a trigger on bookings keeps one row per offset in
-- booking_reminders for every live booking, removes the armed rows when the booking is cancelled or
-- moved (and arms new ones for the new time), and a trigger on clinics re-arms a clinic's future
-- bookings when its reminder settings or quiet hours change. A worker (Reminders/ReminderScanner.cs)
-- claims due rows with FOR UPDATE SKIP LOCKED and turns each into one SMS row plus its outbox job, in
-- one transaction with the row's move to 'queued' — so a reminder is queued exactly once, whatever the
-- number of instances, and the outbox's sender re-checks the booking at send time.

-- Settings ----------------------------------------------------------------------------------------
alter table clinics
  add column reminders_enabled boolean not null default true,
  -- Before the appointment; 1–5 of them, each 15 minutes to 14 days (the API validates the same).
  add column reminder_offsets interval[] not null default array[interval '1 day', interval '2 hours']
    check (cardinality(reminder_offsets) between 1 and 5
           and interval '15 minutes' <= all (reminder_offsets) and interval '14 days' >= all (reminder_offsets)),
  -- null → the default text (Reminders/ReminderTemplate.cs).
  add column reminder_template text check (length(reminder_template) between 1 and 1600);

-- Bookings ----------------------------------------------------------------------------------------
alter table bookings
  -- The patient confirmed by replying C / YES / CONFIRM to a reminder (audited).
  add column confirmed_at  timestamptz,
  -- Marked by staff once the appointment has started: attended, or did_not_arrive (a no-show).
  add column attendance    text check (attendance in ('attended', 'did_not_arrive')),
  add column attendance_at timestamptz,
  add constraint bookings_attendance_both check ((attendance is null) = (attendance_at is null));
create index bookings_clinic_created on bookings (clinic_id, created_at);

-- Reminders ---------------------------------------------------------------------------------------
-- One row per booking, offset and appointment time. armed: waiting for send_at; queued: its SMS row
-- exists (message_id, set null if an erasure deletes the message); skipped: decided not to send
-- (skip_reason). A move leaves queued and skipped rows of the old time where they are: the sender
-- finds their booking no longer at that time and does not send, and the unique key keeps a move back
-- to the same time from reminding twice.
create table booking_reminders (
  clinic_id      uuid not null references clinics(id) on delete cascade,
  id             uuid not null default gen_random_uuid(),
  booking_id     uuid not null,
  remind_offset  interval not null,
  starts_at      timestamptz not null,          -- the appointment time this reminder was armed for
  send_at        timestamptz not null,          -- starts_at − offset, or the last allowed minute before quiet hours
  status         text not null default 'armed' check (status in ('armed', 'queued', 'skipped')),
  message_id     uuid,
  skip_reason    text check (length(skip_reason) <= 200),
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  primary key (clinic_id, id),
  unique (clinic_id, booking_id, remind_offset, starts_at),
  foreign key (clinic_id, booking_id) references bookings (clinic_id, id) on delete cascade,
  foreign key (clinic_id, message_id) references sms_messages (clinic_id, id) on delete set null (message_id)
);
-- What the worker scans: armed rows by due time.
create index booking_reminders_due on booking_reminders (send_at) where status = 'armed';
-- The sender's look-up from a message to its reminder, and a reply's to the latest reminder.
create index booking_reminders_message on booking_reminders (clinic_id, message_id) where message_id is not null;
alter table booking_reminders enable row level security;
alter table booking_reminders force row level security;
create policy booking_reminders_tenant on booking_reminders for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));

-- When a reminder goes: starts_at − offset, unless that falls inside the clinic's quiet hours; then the
-- last allowed minute before the quiet window began (never later: the appointment may be early the
-- next morning). A time zone PostgreSQL does not know leaves the time as it is rather than failing the
-- booking that armed it.
create or replace function public.reminder_send_at(p_due timestamptz, p_quiet_start time, p_quiet_end time, p_timezone text)
returns timestamptz language plpgsql stable set search_path = public, pg_temp as $$
declare
  v_local timestamp;
  v_t time;
  v_began timestamp;
begin
  if p_quiet_start is null or p_quiet_end is null or p_quiet_start = p_quiet_end then
    return p_due;
  end if;
  begin
    v_local := p_due at time zone p_timezone;
  exception when invalid_parameter_value then
    return p_due;
  end;
  v_t := v_local::time;
  if p_quiet_start < p_quiet_end then
    if v_t < p_quiet_start or v_t >= p_quiet_end then return p_due; end if;
    v_began := v_local::date + p_quiet_start;
  elsif v_t >= p_quiet_start then          -- the window wraps midnight: this evening's part
    v_began := v_local::date + p_quiet_start;
  elsif v_t < p_quiet_end then             -- … or this morning's part, which began yesterday
    v_began := (v_local::date - 1) + p_quiet_start;
  else
    return p_due;
  end if;
  return (v_began - interval '1 minute') at time zone p_timezone;
end $$;

-- (Re-)arms reminders: one booking (p_booking_id), or every future booking of the clinic (null).
-- What was armed goes; a live booking with a patient, of a clinic with reminders on, gets one row per
-- offset whose sending time is still ahead (a reminder whose time has already passed when the booking
-- is made is not sent: the patient just booked). Runs as its caller, under RLS.
create or replace function public.reminders_arm(p_clinic_id uuid, p_booking_id uuid default null)
returns int language plpgsql set search_path = public, pg_temp as $$
declare
  v_count int;
begin
  delete from booking_reminders r
   where r.clinic_id = p_clinic_id and r.status = 'armed'
     and (p_booking_id is null or r.booking_id = p_booking_id);
  insert into booking_reminders (clinic_id, booking_id, remind_offset, starts_at, send_at)
  select a.clinic_id, a.booking_id, a.remind_offset, a.starts_at, a.send_at
    from (select b.clinic_id, b.id as booking_id, o.v as remind_offset, b.starts_at,
                 public.reminder_send_at(b.starts_at - o.v, c.quiet_start, c.quiet_end, c.timezone) as send_at
            from bookings b
            join clinics c on c.id = b.clinic_id
            cross join lateral unnest(c.reminder_offsets) as o(v)
           where b.clinic_id = p_clinic_id
             and (p_booking_id is null or b.id = p_booking_id)
             and b.status = 'confirmed' and b.patient_id is not null and b.starts_at > now()
             and c.reminders_enabled) a
   where a.send_at > now()
  on conflict (clinic_id, booking_id, remind_offset, starts_at) do nothing;
  get diagnostics v_count = row_count;
  return v_count;
end $$;

create or replace function public.bookings_arm_reminders() returns trigger
language plpgsql set search_path = public, pg_temp as $$
begin
  perform public.reminders_arm(new.clinic_id, new.id);
  return null;
end $$;
create trigger bookings_reminders_insert after insert on bookings
  for each row execute function public.bookings_arm_reminders();
create trigger bookings_reminders_update after update of status, starts_at, patient_id on bookings
  for each row when (old.status is distinct from new.status or old.starts_at is distinct from new.starts_at
                     or old.patient_id is distinct from new.patient_id)
  execute function public.bookings_arm_reminders();

create or replace function public.clinics_rearm_reminders() returns trigger
language plpgsql set search_path = public, pg_temp as $$
begin
  perform public.reminders_arm(new.id, null);
  return null;
end $$;
create trigger clinics_reminders_update after update of reminders_enabled, reminder_offsets, quiet_start, quiet_end, timezone on clinics
  for each row when (old.reminders_enabled is distinct from new.reminders_enabled
                     or old.reminder_offsets is distinct from new.reminder_offsets
                     or old.quiet_start is distinct from new.quiet_start or old.quiet_end is distinct from new.quiet_end
                     or old.timezone is distinct from new.timezone)
  execute function public.clinics_rearm_reminders();

-- Replies -----------------------------------------------------------------------------------------
-- Every inbound SMS that is not one of Twilio's own keywords: C / YES / CONFIRM (kind confirm),
-- R / RESCHEDULE / CHANGE (reschedule), anything else (message: the staff inbox). Twilio retries an
-- inbound webhook, so its MessageSid is the idempotency key. A message's sender and text are sealed
-- under the sender's caller key (content); from_hash finds the rows of a number (erasure, export).
create table sms_replies (
  clinic_id          uuid not null references clinics(id) on delete cascade,
  id                 uuid not null default gen_random_uuid(),
  message_sid        text not null check (length(message_sid) between 1 and 64),
  from_hash          bytea not null check (length(from_hash) = 32),
  kind               text not null check (kind in ('confirm', 'reschedule', 'message')),
  booking_id         uuid,
  content            bytea,                     -- sealed {from, text}: inbox messages only
  content_purged_at  timestamptz,
  -- open / handled: an inbox message; answered: a confirm or reschedule we replied to ourselves.
  status             text not null check (status in ('open', 'handled', 'answered')),
  reply_message_id   uuid,
  handled_at         timestamptz,
  handled_by         text check (length(handled_by) <= 200),
  received_at        timestamptz not null default now(),
  primary key (clinic_id, id),
  unique (clinic_id, message_sid),
  foreign key (clinic_id, booking_id) references bookings (clinic_id, id) on delete set null (booking_id),
  foreign key (clinic_id, reply_message_id) references sms_messages (clinic_id, id) on delete set null (reply_message_id)
);
create index sms_replies_inbox on sms_replies (clinic_id, status, received_at) where kind = 'message';
create index sms_replies_from on sms_replies (clinic_id, from_hash);
create index sms_replies_booking on sms_replies (clinic_id, booking_id) where booking_id is not null;
create index sms_replies_content_age on sms_replies (received_at) where content is not null;
alter table sms_replies enable row level security;
alter table sms_replies force row level security;
create policy sms_replies_tenant on sms_replies for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));

-- Privileges (issue 12) ---------------------------------------------------------------------------
revoke all on table booking_reminders, sms_replies from public, anon, authenticated, service_role;
-- Members' writes to bookings and clinic settings arm and disarm through the triggers (as the caller);
-- the worker (service_role) queues and skips.
grant select, insert, delete on table booking_reminders to authenticated;
grant select, insert, update, delete on table booking_reminders to service_role;
-- Replies are stored by the signature-checked Twilio callback (service_role); staff mark inbox items
-- handled (those columns only) and an erasure deletes a patient's.
grant select, delete on table sms_replies to authenticated;
grant update (status, handled_at, handled_by) on table sms_replies to authenticated;
grant select, insert, update, delete on table sms_replies to service_role;

revoke all on function
  public.reminder_send_at(timestamptz, time, time, text),
  public.reminders_arm(uuid, uuid),
  public.bookings_arm_reminders(),
  public.clinics_rearm_reminders()
  from public, anon, authenticated, service_role;
-- Called inside the triggers, which run as the role that changed the booking or the clinic.
grant execute on function
  public.reminder_send_at(timestamptz, time, time, text),
  public.reminders_arm(uuid, uuid)
  to authenticated, service_role;
-- Trigger functions (bookings_arm_reminders, clinics_rearm_reminders): no grant.

-- Every live future booking already stored gets its reminders.
select public.reminders_arm(id, null) from clinics;

-- Spelled out per table for the migration checker (idempotent):
alter table booking_reminders force row level security;
alter table sms_replies force row level security;
