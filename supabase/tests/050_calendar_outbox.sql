-- The calendar outbox: every booking change of a linked practitioner enqueues one job in the same
-- transaction, whatever path made the change; unlinked practitioners cost nothing; RLS holds.
begin;
create extension if not exists pgtap;
select plan(8);

insert into clinics (id, name) values ('55555555-5555-5555-5555-555555555555', 'Cal'), ('66666666-6666-6666-6666-666666666666', 'Other');
insert into practitioners (id, clinic_id, name, calendar_id) values
  ('e1111111-1111-1111-1111-111111111111', '55555555-5555-5555-5555-555555555555', 'Linked', 'linked@group.calendar.google.com'),
  ('e2222222-2222-2222-2222-222222222222', '55555555-5555-5555-5555-555555555555', 'Unlinked', null);
insert into patients (id, clinic_id, name) values ('e3333333-3333-3333-3333-333333333333', '55555555-5555-5555-5555-555555555555', 'P');
insert into calendar_slots (id, clinic_id, practitioner_id, starts_at, ends_at) values
  ('e4444444-4444-4444-4444-444444444444', '55555555-5555-5555-5555-555555555555', 'e1111111-1111-1111-1111-111111111111', now() + interval '2 days', now() + interval '2 days 30 minutes'),
  ('e5555555-5555-5555-5555-555555555555', '55555555-5555-5555-5555-555555555555', 'e1111111-1111-1111-1111-111111111111', now() + interval '3 days', now() + interval '3 days 30 minutes'),
  ('e6666666-6666-6666-6666-666666666666', '55555555-5555-5555-5555-555555555555', 'e2222222-2222-2222-2222-222222222222', now() + interval '2 days', now() + interval '2 days 30 minutes');

select claim_slot_atomic('e4444444-4444-4444-4444-444444444444', 'e3333333-3333-3333-3333-333333333333', '55555555-5555-5555-5555-555555555555');
select is((select op || ':' || version from calendar_jobs j join bookings b on b.id = j.booking_id where b.slot_id = 'e4444444-4444-4444-4444-444444444444'),
  'create:1', 'a claim enqueues a create job');
select is((select calendar_status from bookings where slot_id = 'e4444444-4444-4444-4444-444444444444'), 'pending', 'the booking is pending in the calendar');

select move_booking((select id from bookings where slot_id = 'e4444444-4444-4444-4444-444444444444'), 'e5555555-5555-5555-5555-555555555555', '55555555-5555-5555-5555-555555555555');
select is((select op || ':' || version from calendar_jobs j join bookings b on b.id = j.booking_id where b.slot_id = 'e5555555-5555-5555-5555-555555555555'),
  'move:2', 'a move re-arms the same job (one row per booking)');

select cancel_booking((select id from bookings where slot_id = 'e5555555-5555-5555-5555-555555555555'), '55555555-5555-5555-5555-555555555555');
select is((select op || ':' || version from calendar_jobs j join bookings b on b.id = j.booking_id where b.slot_id = 'e5555555-5555-5555-5555-555555555555'),
  'cancel:3', 'a cancel re-arms it again');

-- The worker's own writes to the calendar columns do not enqueue anything.
update bookings set calendar_status = 'deleted', calendar_generation = 1 where slot_id = 'e5555555-5555-5555-5555-555555555555';
select is((select version from calendar_jobs j join bookings b on b.id = j.booking_id where b.slot_id = 'e5555555-5555-5555-5555-555555555555'),
  3, 'calendar bookkeeping updates do not re-arm the job');

select claim_slot_atomic('e6666666-6666-6666-6666-666666666666', 'e3333333-3333-3333-3333-333333333333', '55555555-5555-5555-5555-555555555555');
select is((select count(*)::int from calendar_jobs j join bookings b on b.id = j.booking_id where b.slot_id = 'e6666666-6666-6666-6666-666666666666'),
  0, 'an unlinked practitioner''s booking enqueues nothing');

-- RLS: another clinic sees no jobs; the owning clinic sees its own.
set local role authenticated;
select set_config('request.jwt.claims', '{"role":"authenticated","org_id":"66666666-6666-6666-6666-666666666666"}', true);
select is((select count(*)::int from calendar_jobs), 0, 'another clinic sees none of the jobs');
select set_config('request.jwt.claims', '{"role":"authenticated","org_id":"55555555-5555-5555-5555-555555555555"}', true);
select is((select count(*)::int from calendar_jobs), 1, 'the clinic sees its own job');
reset role;

select * from finish();
rollback;
