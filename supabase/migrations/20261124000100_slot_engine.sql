-- Slot engine: holds, atomic claims with alternatives, moves and cancels.
-- Every decision is one conditional UPDATE; the constraints on bookings
-- (bookings_one_live_per_slot, bookings_no_overlap) hold even if this code were wrong.

-- Free slots near a taken one, as jsonb: same duration, in the future, not claimed, not held by
-- anyone live, not busy in the calendar. Rank = |Δ start| + 2 hours when the practitioner differs,
-- so the same practitioner is preferred but the same time with a colleague beats next week.
create or replace function public.slot_alternatives(p_slot_id uuid, p_clinic_id uuid, p_limit int default 3)
returns jsonb language sql stable as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'slotId', a.id, 'startsAt', a.starts_at, 'endsAt', a.ends_at, 'practitionerId', a.practitioner_id)
           order by a.rank), '[]'::jsonb)
  from (
    select c.id, c.starts_at, c.ends_at, c.practitioner_id,
           abs(extract(epoch from c.starts_at - s.starts_at))
             + case when c.practitioner_id = s.practitioner_id then 0 else 7200 end as rank
    from calendar_slots s
    join calendar_slots c
      on c.clinic_id = s.clinic_id
     and c.id <> s.id
     and c.ends_at - c.starts_at = s.ends_at - s.starts_at
    where s.id = p_slot_id and s.clinic_id = p_clinic_id
      and c.starts_at > now()
      and c.claimed_by is null
      and not c.busy
      and (c.hold_expires_at is null or c.hold_expires_at <= now())
    order by rank
    limit p_limit
  ) a
$$;

-- Who acts, for audit rows written inside these functions (one round trip less than writing
-- them from the application afterwards).
create or replace function public.request_actor() returns text language sql stable as $$
  select coalesce(nullif(auth.jwt() ->> 'sub', ''), current_user::text)
$$;
grant execute on function public.request_actor() to authenticated, service_role;

-- The claim. p_holder is the key a live hold must match (the patient's id when not given).
create or replace function public.claim_slot(
  p_slot_id uuid, p_patient_id uuid, p_clinic_id uuid,
  p_holder text default null, p_source text default 'api', p_call_id text default null)
returns jsonb language plpgsql as $$
declare
  v_slot calendar_slots%rowtype;
  v_booking uuid;
  v_holder text := coalesce(p_holder, p_patient_id::text);
begin
  if p_slot_id is null or p_patient_id is null or p_clinic_id is null then
    return jsonb_build_object('status', 400, 'error', 'slotId, patientId and clinicId are required');
  end if;

  perform 1 from patients where id = p_patient_id and clinic_id = p_clinic_id and erased_at is null;
  if not found then
    return jsonb_build_object('status', 404, 'error', 'Patient not found');
  end if;

  -- The race is decided here: concurrent claimers queue on the row lock and re-check the WHERE
  -- against the winner's committed row, so exactly one sees claimed_by null.
  update calendar_slots
     set claimed_by = p_patient_id, claimed_at = now(), hold_holder = null, hold_expires_at = null
   where id = p_slot_id and clinic_id = p_clinic_id
     and claimed_by is null
     and not busy
     and (hold_expires_at is null or hold_expires_at <= now() or hold_holder = v_holder)
  returning * into v_slot;

  if found then
    insert into bookings (clinic_id, slot_id, patient_id, practitioner_id, starts_at, ends_at, source, call_id)
    values (p_clinic_id, p_slot_id, p_patient_id, v_slot.practitioner_id, v_slot.starts_at, v_slot.ends_at,
            coalesce(p_source, 'api'), p_call_id)
    returning id into v_booking;
    insert into audit_trail (clinic_id, actor, action, entity, entity_id, detail)
    values (p_clinic_id, public.request_actor(), 'created', 'booking', v_booking::text,
            jsonb_build_object('slotId', p_slot_id, 'patientId', p_patient_id, 'source', coalesce(p_source, 'api'), 'callId', p_call_id));
    return jsonb_build_object('status', 200, 'success', true, 'slotId', p_slot_id, 'bookingId', v_booking,
                              'claimedAt', v_slot.claimed_at, 'created', true);
  end if;

  select * into v_slot from calendar_slots where id = p_slot_id and clinic_id = p_clinic_id;
  if not found then
    -- The seed's function reported success here; an unknown slot is a 404.
    return jsonb_build_object('status', 404, 'error', 'Slot not found');
  end if;

  if v_slot.claimed_by = p_patient_id then
    -- A retried call by the same patient must not hear "taken".
    select id into v_booking from bookings
     where slot_id = p_slot_id and patient_id = p_patient_id and status <> 'cancelled';
    if found then
      return jsonb_build_object('status', 200, 'success', true, 'slotId', p_slot_id, 'bookingId', v_booking,
                                'claimedAt', v_slot.claimed_at, 'created', false);
    end if;
  end if;

  return jsonb_build_object(
    'status', 409,
    'error', 'Slot already claimed',
    'message', 'Sorry, that slot was just taken. How about these alternatives?',
    'reason', case when v_slot.claimed_by is not null then 'claimed'
                   when v_slot.busy then 'busy'
                   else 'held' end,
    'alternatives', public.slot_alternatives(p_slot_id, p_clinic_id, 3));
end $$;

-- The seed's name and signature.
create or replace function public.claim_slot_atomic(p_slot_id uuid, p_patient_id uuid, p_clinic_id uuid)
returns jsonb language sql as $$
  select public.claim_slot(p_slot_id, p_patient_id, p_clinic_id)
$$;

-- A hold for the voice flow: blocks other claimers until it expires; no cleanup job needed
-- because every check compares hold_expires_at with now().
create or replace function public.hold_slot(p_slot_id uuid, p_clinic_id uuid, p_holder text, p_ttl_seconds int default 300)
returns jsonb language plpgsql as $$
declare
  v_slot calendar_slots%rowtype;
begin
  if p_holder is null or length(p_holder) = 0 or p_ttl_seconds is null or p_ttl_seconds < 1 or p_ttl_seconds > 3600 then
    return jsonb_build_object('status', 400, 'error', 'holder and a ttlSeconds between 1 and 3600 are required');
  end if;
  update calendar_slots
     set hold_holder = p_holder, hold_expires_at = now() + make_interval(secs => p_ttl_seconds)
   where id = p_slot_id and clinic_id = p_clinic_id
     and claimed_by is null
     and not busy
     and (hold_expires_at is null or hold_expires_at <= now() or hold_holder = p_holder)
  returning * into v_slot;
  if found then
    return jsonb_build_object('status', 200, 'success', true, 'slotId', p_slot_id, 'holder', p_holder,
                              'holdExpiresAt', v_slot.hold_expires_at);
  end if;
  perform 1 from calendar_slots where id = p_slot_id and clinic_id = p_clinic_id;
  if not found then
    return jsonb_build_object('status', 404, 'error', 'Slot not found');
  end if;
  return jsonb_build_object('status', 409, 'error', 'Slot already claimed',
    'message', 'Sorry, that slot was just taken. How about these alternatives?',
    'alternatives', public.slot_alternatives(p_slot_id, p_clinic_id, 3));
end $$;

-- Moves a booking to another slot: the new slot is claimed and the old one freed in one
-- transaction, or nothing changes.
create or replace function public.move_booking(p_booking_id uuid, p_new_slot_id uuid, p_clinic_id uuid)
returns jsonb language plpgsql as $$
declare
  v_booking bookings%rowtype;
  v_slot calendar_slots%rowtype;
begin
  -- Row lock on the booking: two moves of the same booking take turns.
  select * into v_booking from bookings
   where id = p_booking_id and clinic_id = p_clinic_id and status = 'confirmed'
   for update;
  if not found then
    return jsonb_build_object('status', 404, 'error', 'Booking not found');
  end if;
  if v_booking.slot_id = p_new_slot_id then
    return jsonb_build_object('status', 200, 'success', true, 'bookingId', p_booking_id, 'slotId', p_new_slot_id, 'moved', false);
  end if;

  update calendar_slots
     set claimed_by = v_booking.patient_id, claimed_at = now(), hold_holder = null, hold_expires_at = null
   where id = p_new_slot_id and clinic_id = p_clinic_id
     and claimed_by is null
     and not busy
     and (hold_expires_at is null or hold_expires_at <= now() or hold_holder = v_booking.patient_id::text)
  returning * into v_slot;
  if not found then
    perform 1 from calendar_slots where id = p_new_slot_id and clinic_id = p_clinic_id;
    if not found then
      return jsonb_build_object('status', 404, 'error', 'Slot not found');
    end if;
    return jsonb_build_object('status', 409, 'error', 'Slot already claimed',
      'message', 'Sorry, that slot was just taken. How about these alternatives?',
      'alternatives', public.slot_alternatives(p_new_slot_id, p_clinic_id, 3));
  end if;

  update calendar_slots set claimed_by = null, claimed_at = null
   where id = v_booking.slot_id and clinic_id = p_clinic_id;
  update bookings
     set slot_id = v_slot.id, practitioner_id = v_slot.practitioner_id,
         starts_at = v_slot.starts_at, ends_at = v_slot.ends_at, updated_at = now()
   where id = p_booking_id;
  insert into audit_trail (clinic_id, actor, action, entity, entity_id, detail)
  values (p_clinic_id, public.request_actor(), 'moved', 'booking', p_booking_id::text,
          jsonb_build_object('slotId', v_slot.id, 'previousSlotId', v_booking.slot_id));
  return jsonb_build_object('status', 200, 'success', true, 'bookingId', p_booking_id, 'slotId', v_slot.id,
                            'previousSlotId', v_booking.slot_id, 'moved', true);
end $$;

-- Cancels a booking and frees its slot for others.
create or replace function public.cancel_booking(p_booking_id uuid, p_clinic_id uuid)
returns jsonb language plpgsql as $$
declare
  v_slot uuid;
begin
  update bookings set status = 'cancelled', cancelled_at = now(), updated_at = now()
   where id = p_booking_id and clinic_id = p_clinic_id and status = 'confirmed'
  returning slot_id into v_slot;
  if not found then
    return jsonb_build_object('status', 404, 'error', 'Booking not found');
  end if;
  update calendar_slots set claimed_by = null, claimed_at = null
   where id = v_slot and clinic_id = p_clinic_id;
  insert into audit_trail (clinic_id, actor, action, entity, entity_id, detail)
  values (p_clinic_id, public.request_actor(), 'cancelled', 'booking', p_booking_id::text, jsonb_build_object('slotId', v_slot));
  return jsonb_build_object('status', 200, 'success', true, 'bookingId', p_booking_id, 'slotId', v_slot);
end $$;

-- Security invoker (the default): every function runs as the caller's role, under RLS.
grant execute on function public.slot_alternatives(uuid, uuid, int) to authenticated, service_role;
grant execute on function public.claim_slot(uuid, uuid, uuid, text, text, text) to authenticated, service_role;
grant execute on function public.claim_slot_atomic(uuid, uuid, uuid) to authenticated, service_role;
grant execute on function public.hold_slot(uuid, uuid, text, int) to authenticated, service_role;
grant execute on function public.move_booking(uuid, uuid, uuid) to authenticated, service_role;
grant execute on function public.cancel_booking(uuid, uuid) to authenticated, service_role;
revoke execute on function public.claim_slot(uuid, uuid, uuid, text, text, text) from public;
revoke execute on function public.claim_slot_atomic(uuid, uuid, uuid) from public;
