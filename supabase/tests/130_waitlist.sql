-- The waitlist's signal: every way a slot frees up writes a 'waitlist_slot' outbox job in the freeing
-- transaction (cancel, move away, busy cleared, hold released early, and a look scheduled for when a
-- hold runs out); nothing is written while nobody waits; RLS holds on entries and offers.
begin;
create extension if not exists pgtap;
select plan(14);

insert into clinics (id, name) values ('13131313-1313-1313-1313-131313131313', 'Wait'), ('14141414-1414-1414-1414-141414141414', 'Other');
insert into practitioners (id, clinic_id, name) values ('a1111111-1111-1111-1111-111111111111', '13131313-1313-1313-1313-131313131313', 'Dr W');
insert into patients (id, clinic_id, name, phone) values
  ('a2222222-2222-2222-2222-222222222222', '13131313-1313-1313-1313-131313131313', 'Booked', '+447700900001'),
  ('a3333333-3333-3333-3333-333333333333', '13131313-1313-1313-1313-131313131313', 'Waiting', '+447700900002');
insert into calendar_slots (id, clinic_id, practitioner_id, starts_at, ends_at) values
  ('a4444444-4444-4444-4444-444444444444', '13131313-1313-1313-1313-131313131313', 'a1111111-1111-1111-1111-111111111111', now() + interval '2 days', now() + interval '2 days 30 minutes'),
  ('a5555555-5555-5555-5555-555555555555', '13131313-1313-1313-1313-131313131313', 'a1111111-1111-1111-1111-111111111111', now() + interval '3 days', now() + interval '3 days 30 minutes'),
  ('a6666666-6666-6666-6666-666666666666', '13131313-1313-1313-1313-131313131313', 'a1111111-1111-1111-1111-111111111111', now() + interval '4 days', now() + interval '4 days 30 minutes'),
  ('a7777777-7777-7777-7777-777777777777', '13131313-1313-1313-1313-131313131313', 'a1111111-1111-1111-1111-111111111111', now() - interval '1 hour', now() - interval '30 minutes');

create temporary view jobs as
  select payload->>'slotId' as slot, next_attempt_at from outbox where kind = 'waitlist_slot' and clinic_id = '13131313-1313-1313-1313-131313131313';

-- Nobody waits: freeing costs one EXISTS and writes nothing.
select claim_slot_atomic('a4444444-4444-4444-4444-444444444444', 'a2222222-2222-2222-2222-222222222222', '13131313-1313-1313-1313-131313131313');
select cancel_booking((select id from bookings where slot_id = 'a4444444-4444-4444-4444-444444444444'), '13131313-1313-1313-1313-131313131313');
select is((select count(*)::int from jobs), 0, 'no job while nobody waits');

insert into waitlist_entries (clinic_id, patient_id, expires_at, source)
values ('13131313-1313-1313-1313-131313131313', 'a3333333-3333-3333-3333-333333333333', now() + interval '30 days', 'staff');

select claim_slot_atomic('a4444444-4444-4444-4444-444444444444', 'a2222222-2222-2222-2222-222222222222', '13131313-1313-1313-1313-131313131313');
select is((select count(*)::int from jobs), 0, 'a claim frees nothing');
select cancel_booking((select id from bookings where slot_id = 'a4444444-4444-4444-4444-444444444444' and status = 'confirmed'), '13131313-1313-1313-1313-131313131313');
select is((select count(*)::int from jobs where slot = 'a4444444-4444-4444-4444-444444444444' and next_attempt_at <= now()), 1, 'a cancel writes a job due now');

select claim_slot_atomic('a4444444-4444-4444-4444-444444444444', 'a2222222-2222-2222-2222-222222222222', '13131313-1313-1313-1313-131313131313');
select move_booking((select id from bookings where slot_id = 'a4444444-4444-4444-4444-444444444444' and status = 'confirmed'),
                    'a5555555-5555-5555-5555-555555555555', '13131313-1313-1313-1313-131313131313');
select is((select count(*)::int from jobs where slot = 'a4444444-4444-4444-4444-444444444444'), 2, 'a move away frees the old slot');
select is((select count(*)::int from jobs where slot = 'a5555555-5555-5555-5555-555555555555'), 0, 'the slot moved to is not freed');

update calendar_slots set busy = true where id = 'a6666666-6666-6666-6666-666666666666';
select is((select count(*)::int from jobs where slot = 'a6666666-6666-6666-6666-666666666666'), 0, 'a calendar block frees nothing');
update calendar_slots set busy = false where id = 'a6666666-6666-6666-6666-666666666666';
select is((select count(*)::int from jobs where slot = 'a6666666-6666-6666-6666-666666666666' and next_attempt_at <= now()), 1, 'a cleared calendar block writes a job due now');

select hold_slot('a4444444-4444-4444-4444-444444444444', '13131313-1313-1313-1313-131313131313', 'call-1', 300);
select ok((select bool_or(next_attempt_at between now() + interval '299 seconds' and now() + interval '301 seconds') from jobs
           where slot = 'a4444444-4444-4444-4444-444444444444'), 'a hold schedules a look for when it runs out');
update calendar_slots set hold_holder = null, hold_expires_at = null where id = 'a4444444-4444-4444-4444-444444444444';
select is((select count(*)::int from jobs where slot = 'a4444444-4444-4444-4444-444444444444' and next_attempt_at <= now()), 3,
  'a hold released early writes a job due now');

update calendar_slots set busy = true where id = 'a7777777-7777-7777-7777-777777777777';
update calendar_slots set busy = false where id = 'a7777777-7777-7777-7777-777777777777';
select is((select count(*)::int from jobs where slot = 'a7777777-7777-7777-7777-777777777777'), 0, 'a slot in the past is never offered');

-- Keys: one open offer per slot, an entry offered a slot once.
insert into waitlist_offers (clinic_id, id, entry_id, slot_id, expires_at)
select '13131313-1313-1313-1313-131313131313', 'a8888888-8888-8888-8888-888888888888', id, 'a6666666-6666-6666-6666-666666666666', now() + interval '30 minutes'
from waitlist_entries where clinic_id = '13131313-1313-1313-1313-131313131313';
select throws_ok($$insert into waitlist_offers (clinic_id, entry_id, slot_id, expires_at)
                   select clinic_id, id, 'a6666666-6666-6666-6666-666666666666', now() + interval '30 minutes' from waitlist_entries
                   where clinic_id = '13131313-1313-1313-1313-131313131313'$$, '23505', null, 'an entry is offered a slot once');

-- RLS: another clinic sees none of the rows and cannot write any for this clinic.
set local role authenticated;
select set_config('request.jwt.claims', '{"role":"authenticated","org_id":"14141414-1414-1414-1414-141414141414"}', true);
select is((select count(*)::int from waitlist_entries) + (select count(*)::int from waitlist_offers), 0, 'another clinic sees no entries or offers');
select throws_ok($$insert into waitlist_entries (clinic_id, patient_id, expires_at, source)
                   values ('13131313-1313-1313-1313-131313131313', 'a3333333-3333-3333-3333-333333333333', now() + interval '1 day', 'staff')$$,
                 '42501', null, 'another clinic cannot add an entry for this one');
select set_config('request.jwt.claims', '{"role":"authenticated","org_id":"13131313-1313-1313-1313-131313131313"}', true);
select is((select count(*)::int from waitlist_entries) + (select count(*)::int from waitlist_offers), 2, 'the clinic sees its own');
reset role;

select * from finish();
rollback;
