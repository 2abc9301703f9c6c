-- No NOTIFY from a writer's transaction (issue 16). A transaction with a pending NOTIFY takes
-- PostgreSQL's cluster-wide notify lock at commit and holds it through its WAL flush, so a trigger
-- that notifies on every outbox insert or booking change queued every such commit, of every clinic,
-- behind one lock. The jobs are still enqueued in the writer's transaction (nothing is lost on a
-- crash); the application wakes its own worker after commit and NOTIFYs the other instances from a
-- connection of its own, debounced (Platform/DebouncedNotify.cs). Workers keep polling as before.

drop trigger if exists outbox_notify on outbox;
drop function if exists public.outbox_notify();

-- Same bodies as in …_calendar.sql, without pg_notify.
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
  return null;
end $$;

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
  return v_count;
end $$;

revoke all on function public.calendar_enqueue() from public, anon, authenticated, service_role;
revoke all on function public.calendar_relink(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function public.calendar_relink(uuid, uuid) to authenticated, service_role;
