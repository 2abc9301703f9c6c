-- Reminders and replies (issue 18): the quiet-hours rule of reminder_send_at, the bookings trigger that
-- arms and disarms, RLS forced on both tables and exact privileges.
begin;
create extension if not exists pgtap;
select plan(18);

select ok((select relrowsecurity and relforcerowsecurity from pg_class where oid = 'public.booking_reminders'::regclass),
  'booking_reminders has RLS enabled and forced');
select ok((select relrowsecurity and relforcerowsecurity from pg_class where oid = 'public.sms_replies'::regclass),
  'sms_replies has RLS enabled and forced');
select table_privs_are('public', 'sms_replies', 'authenticated', array['DELETE', 'SELECT'],
  'members read and erase replies; they are stored by the Twilio callback only');
select ok(has_column_privilege('authenticated', 'public.sms_replies', 'status', 'update')
          and not has_column_privilege('authenticated', 'public.sms_replies', 'content', 'update'),
  'members mark inbox items handled and cannot rewrite what a patient sent');
select ok(not has_table_privilege('authenticated', 'public.booking_reminders', 'update'),
  'members arm and disarm through the triggers; only the worker queues and skips');

-- Quiet hours 21:00–08:00 in London (GMT in January).
select is(public.reminder_send_at('2026-01-14 19:00+00', '21:00', '08:00', 'Europe/London'), '2026-01-14 19:00+00'::timestamptz,
  'outside quiet hours the reminder keeps its time');
select is(public.reminder_send_at('2026-01-14 23:30+00', '21:00', '08:00', 'Europe/London'), '2026-01-14 20:59+00'::timestamptz,
  'in the evening part it goes at the last allowed minute before');
select is(public.reminder_send_at('2026-01-15 07:00+00', '21:00', '08:00', 'Europe/London'), '2026-01-14 20:59+00'::timestamptz,
  'in the morning part it goes the evening before, never later');
select is(public.reminder_send_at('2026-07-15 11:00+00', '12:00', '14:00', 'Europe/London'), '2026-07-15 10:59+00'::timestamptz,
  'a window that does not wrap midnight, in summer time (12:00 BST is 11:00 UTC)');
select is(public.reminder_send_at('2026-01-14 23:30+00', null, null, 'Europe/London'), '2026-01-14 23:30+00'::timestamptz,
  'no quiet hours, no change');
select is(public.reminder_send_at('2026-01-14 23:30+00', '21:00', '08:00', 'Not/AZone'), '2026-01-14 23:30+00'::timestamptz,
  'an unknown time zone never fails the booking that arms');

insert into clinics (id, name, timezone) values
  ('aaaaaaaa-1111-1111-1111-111111111111', 'R1', 'Europe/London'), ('bbbbbbbb-2222-2222-2222-222222222222', 'R2', 'Europe/London');
insert into practitioners (id, clinic_id, name) values
  ('aaaaaaaa-1111-1111-1111-000000000001', 'aaaaaaaa-1111-1111-1111-111111111111', 'Dr A'),
  ('bbbbbbbb-2222-2222-2222-000000000001', 'bbbbbbbb-2222-2222-2222-222222222222', 'Dr B');
insert into patients (id, clinic_id, name, phone) values
  ('aaaaaaaa-1111-1111-1111-000000000002', 'aaaaaaaa-1111-1111-1111-111111111111', 'P A', '+447700900001'),
  ('bbbbbbbb-2222-2222-2222-000000000002', 'bbbbbbbb-2222-2222-2222-222222222222', 'P B', '+447700900002');
insert into calendar_slots (id, clinic_id, practitioner_id, starts_at, ends_at) values
  ('aaaaaaaa-1111-1111-1111-000000000003', 'aaaaaaaa-1111-1111-1111-111111111111', 'aaaaaaaa-1111-1111-1111-000000000001',
   now() + interval '5 days', now() + interval '5 days 30 minutes'),
  ('bbbbbbbb-2222-2222-2222-000000000003', 'bbbbbbbb-2222-2222-2222-222222222222', 'bbbbbbbb-2222-2222-2222-000000000001',
   now() + interval '5 days', now() + interval '5 days 30 minutes');
select public.claim_slot('bbbbbbbb-2222-2222-2222-000000000003', 'bbbbbbbb-2222-2222-2222-000000000002', 'bbbbbbbb-2222-2222-2222-222222222222');

-- As clinic R1.
select set_config('request.jwt.claims', '{"role":"authenticated","sub":"u-r1","org_id":"aaaaaaaa-1111-1111-1111-111111111111"}', true);
set local role authenticated;
select is((public.claim_slot('aaaaaaaa-1111-1111-1111-000000000003', 'aaaaaaaa-1111-1111-1111-000000000002',
                             'aaaaaaaa-1111-1111-1111-111111111111') ->> 'status')::int, 200, 'R1 books');
select is((select array_agg(remind_offset order by remind_offset desc) from booking_reminders),
  array[interval '1 day', interval '2 hours'], 'the insert armed R1''s booking a day and two hours before, and R1 sees only its own');
select is((select public.cancel_booking(id, 'aaaaaaaa-1111-1111-1111-111111111111') ->> 'status' from bookings)::int, 200, 'R1 cancels');
select is((select count(*)::int from booking_reminders), 0, 'the cancel removed the armed reminders');
select is(public.reminders_arm('bbbbbbbb-2222-2222-2222-222222222222', null), 0, 'R1 cannot arm (nor disarm) R2''s bookings');
select throws_ok($$ insert into booking_reminders (clinic_id, booking_id, remind_offset, starts_at, send_at)
                    values ('bbbbbbbb-2222-2222-2222-222222222222', gen_random_uuid(), interval '1 hour', now(), now()) $$, '42501', null,
  'nor write a reminder row for R2');
reset role;
select is((select count(*)::int from booking_reminders where clinic_id = 'bbbbbbbb-2222-2222-2222-222222222222' and status = 'armed'), 2,
  'R2''s reminders are untouched');

select * from finish();
rollback;
