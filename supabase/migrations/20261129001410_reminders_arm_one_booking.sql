-- Arming one booking's reminders reads that booking only (issue 16).
--
-- reminders_arm served both callers with one pair of statements filtered by
-- `(p_booking_id is null or … = p_booking_id)`. PL/pgSQL caches plans; once it settles on a generic
-- plan, that condition cannot use the booking's key, and the booking trigger (every claim, move and
-- cancel) read every armed reminder and every booking of the clinic. Measured with `load claim`: raw
-- claims into a clinic that already held the HTTP run's 4,000 bookings ran at 694 claims/s against
-- 1,330 into a fresh clinic. Now each case has its own statements, keyed by what it touches.

create or replace function public.reminders_arm(p_clinic_id uuid, p_booking_id uuid default null)
returns int language plpgsql set search_path = public, pg_temp as $$
declare
  v_count int;
begin
  if p_booking_id is not null then
    delete from booking_reminders r
     where r.clinic_id = p_clinic_id and r.booking_id = p_booking_id and r.status = 'armed';
    insert into booking_reminders (clinic_id, booking_id, remind_offset, starts_at, send_at)
    select a.clinic_id, a.booking_id, a.remind_offset, a.starts_at, a.send_at
      from (select b.clinic_id, b.id as booking_id, o.v as remind_offset, b.starts_at,
                   public.reminder_send_at(b.starts_at - o.v, c.quiet_start, c.quiet_end, c.timezone) as send_at
              from bookings b
              join clinics c on c.id = b.clinic_id
              cross join lateral unnest(c.reminder_offsets) as o(v)
             where b.clinic_id = p_clinic_id and b.id = p_booking_id
               and b.status = 'confirmed' and b.patient_id is not null and b.starts_at > now()
               and c.reminders_enabled) a
     where a.send_at > now()
    on conflict (clinic_id, booking_id, remind_offset, starts_at) do nothing;
  else
    delete from booking_reminders r
     where r.clinic_id = p_clinic_id and r.status = 'armed';
    insert into booking_reminders (clinic_id, booking_id, remind_offset, starts_at, send_at)
    select a.clinic_id, a.booking_id, a.remind_offset, a.starts_at, a.send_at
      from (select b.clinic_id, b.id as booking_id, o.v as remind_offset, b.starts_at,
                   public.reminder_send_at(b.starts_at - o.v, c.quiet_start, c.quiet_end, c.timezone) as send_at
              from bookings b
              join clinics c on c.id = b.clinic_id
              cross join lateral unnest(c.reminder_offsets) as o(v)
             where b.clinic_id = p_clinic_id
               and b.status = 'confirmed' and b.patient_id is not null and b.starts_at > now()
               and c.reminders_enabled) a
     where a.send_at > now()
    on conflict (clinic_id, booking_id, remind_offset, starts_at) do nothing;
  end if;
  get diagnostics v_count = row_count;
  return v_count;
end $$;
