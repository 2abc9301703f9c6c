-- The slot engine's guarantees at the database level.
begin;
create extension if not exists pgtap;
select plan(9);

insert into clinics (id, name) values ('33333333-3333-3333-3333-333333333333', 'C');
insert into practitioners (id, clinic_id, name) values ('c1111111-1111-1111-1111-111111111111', '33333333-3333-3333-3333-333333333333', 'Dr C');
insert into patients (id, clinic_id, name) values
  ('c2222222-2222-2222-2222-222222222222', '33333333-3333-3333-3333-333333333333', 'P1'),
  ('c3333333-3333-3333-3333-333333333333', '33333333-3333-3333-3333-333333333333', 'P2');
insert into calendar_slots (id, clinic_id, practitioner_id, starts_at, ends_at) values
  ('c4444444-4444-4444-4444-444444444444', '33333333-3333-3333-3333-333333333333', 'c1111111-1111-1111-1111-111111111111', now() + interval '1 day', now() + interval '1 day 30 minutes'),
  ('c5555555-5555-5555-5555-555555555555', '33333333-3333-3333-3333-333333333333', 'c1111111-1111-1111-1111-111111111111', now() + interval '1 day 30 minutes', now() + interval '1 day 60 minutes');

select is(claim_slot_atomic('c4444444-4444-4444-4444-444444444444', 'c2222222-2222-2222-2222-222222222222', '33333333-3333-3333-3333-333333333333') ->> 'status', '200', 'first claim wins');
select is(claim_slot_atomic('c4444444-4444-4444-4444-444444444444', 'c3333333-3333-3333-3333-333333333333', '33333333-3333-3333-3333-333333333333') ->> 'status', '409', 'second claim is 409');
select is(jsonb_array_length(claim_slot_atomic('c4444444-4444-4444-4444-444444444444', 'c3333333-3333-3333-3333-333333333333', '33333333-3333-3333-3333-333333333333') -> 'alternatives'), 1, '409 offers the free slot');
select is(claim_slot_atomic('c4444444-4444-4444-4444-444444444444', 'c2222222-2222-2222-2222-222222222222', '33333333-3333-3333-3333-333333333333') ->> 'status', '200', 'same patient retrying gets 200');
select is(claim_slot_atomic('c9999999-9999-9999-9999-999999999999', 'c2222222-2222-2222-2222-222222222222', '33333333-3333-3333-3333-333333333333') ->> 'status', '404', 'unknown slot is 404, not success (the seed''s bug)');
select is((select count(*)::int from bookings where slot_id = 'c4444444-4444-4444-4444-444444444444'), 1, 'one booking');

-- Even code that bypasses the function cannot store a second live booking or an overlap.
select throws_ok($$ insert into bookings (clinic_id, slot_id, patient_id, practitioner_id, starts_at, ends_at)
                    select clinic_id, slot_id, 'c3333333-3333-3333-3333-333333333333', practitioner_id, starts_at, ends_at
                    from bookings where slot_id = 'c4444444-4444-4444-4444-444444444444' $$,
  '23505', null, 'a second live booking of a slot violates bookings_one_live_per_slot');
select throws_ok($$ insert into bookings (clinic_id, slot_id, patient_id, practitioner_id, starts_at, ends_at)
                    select clinic_id, 'c5555555-5555-5555-5555-555555555555', 'c3333333-3333-3333-3333-333333333333', practitioner_id,
                           starts_at + interval '10 minutes', ends_at + interval '10 minutes'
                    from bookings where slot_id = 'c4444444-4444-4444-4444-444444444444' $$,
  '23P01', null, 'an overlapping booking of the practitioner violates bookings_no_overlap');
select throws_ok($$ insert into calendar_slots (clinic_id, practitioner_id, starts_at, ends_at)
                    values ('33333333-3333-3333-3333-333333333333', 'c1111111-1111-1111-1111-111111111111', now() + interval '1 day 10 minutes', now() + interval '1 day 40 minutes') $$,
  '23P01', null, 'overlapping slots of one practitioner are rejected');

select * from finish();
rollback;
