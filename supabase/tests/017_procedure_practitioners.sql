-- Procedures and who does them (issue 17): the lists stay inside one clinic whatever code writes them.
begin;
create extension if not exists pgtap;
select plan(8);

insert into clinics (id, name) values
  ('17171717-aaaa-4aaa-8aaa-000000000001', 'Proc A'),
  ('17171717-bbbb-4bbb-8bbb-000000000002', 'Proc B');
insert into practitioners (id, clinic_id, name) values
  ('17171717-aaaa-4aaa-8aaa-0000000000a1', '17171717-aaaa-4aaa-8aaa-000000000001', 'Dr A'),
  ('17171717-bbbb-4bbb-8bbb-0000000000b1', '17171717-bbbb-4bbb-8bbb-000000000002', 'Dr B');
insert into clinic_procedures (id, clinic_id, name) values
  ('17171717-aaaa-4aaa-8aaa-0000000000e1', '17171717-aaaa-4aaa-8aaa-000000000001', 'Test Proc'),
  ('17171717-bbbb-4bbb-8bbb-0000000000e2', '17171717-bbbb-4bbb-8bbb-000000000002', 'Test Proc');

select lives_ok($$ insert into procedure_practitioners (clinic_id, procedure_id, practitioner_id)
                   values ('17171717-aaaa-4aaa-8aaa-000000000001', '17171717-aaaa-4aaa-8aaa-0000000000e1', '17171717-aaaa-4aaa-8aaa-0000000000a1') $$,
  'a clinic lists its own practitioner for its own procedure');
select throws_ok($$ insert into procedure_practitioners (clinic_id, procedure_id, practitioner_id)
                    values ('17171717-aaaa-4aaa-8aaa-000000000001', '17171717-aaaa-4aaa-8aaa-0000000000e1', '17171717-bbbb-4bbb-8bbb-0000000000b1') $$,
  '23503', null, 'another clinic''s practitioner cannot be listed (composite foreign key)');
select throws_ok($$ insert into procedure_practitioners (clinic_id, procedure_id, practitioner_id)
                    values ('17171717-aaaa-4aaa-8aaa-000000000001', '17171717-bbbb-4bbb-8bbb-0000000000e2', '17171717-aaaa-4aaa-8aaa-0000000000a1') $$,
  '23503', null, 'another clinic''s procedure cannot be used');
select throws_ok($$ update clinic_procedures set consultation_minutes = 4 where clinic_id = '17171717-aaaa-4aaa-8aaa-000000000001' $$,
  '23514', null, 'consultation length below 5 minutes is refused');

-- Under the API role, clinic B sees none of A's lists.
set local role authenticated;
select set_config('request.jwt.claims', '{"role":"authenticated","org_id":"17171717-bbbb-4bbb-8bbb-000000000002"}', true);
select is((select count(*)::int from procedure_practitioners), 0, 'RLS: another clinic''s lists are invisible');
select throws_ok($$ insert into procedure_practitioners (clinic_id, procedure_id, practitioner_id)
                    values ('17171717-aaaa-4aaa-8aaa-000000000001', '17171717-aaaa-4aaa-8aaa-0000000000e1', '17171717-aaaa-4aaa-8aaa-0000000000a1') $$,
  '42501', null, 'RLS: no row for another clinic can be written');
reset role;

-- A booking's procedure: deleting the procedure leaves the booking, without one.
insert into patients (id, clinic_id, name) values ('17171717-aaaa-4aaa-8aaa-0000000000c1', '17171717-aaaa-4aaa-8aaa-000000000001', 'P');
insert into calendar_slots (id, clinic_id, practitioner_id, starts_at, ends_at) values
  ('17171717-aaaa-4aaa-8aaa-0000000000d1', '17171717-aaaa-4aaa-8aaa-000000000001', '17171717-aaaa-4aaa-8aaa-0000000000a1', now() + interval '1 day', now() + interval '1 day 1 hour');
select claim_slot_atomic('17171717-aaaa-4aaa-8aaa-0000000000d1', '17171717-aaaa-4aaa-8aaa-0000000000c1', '17171717-aaaa-4aaa-8aaa-000000000001');
update bookings set procedure_id = '17171717-aaaa-4aaa-8aaa-0000000000e1' where slot_id = '17171717-aaaa-4aaa-8aaa-0000000000d1';
select throws_ok($$ update bookings set procedure_id = '17171717-bbbb-4bbb-8bbb-0000000000e2' where slot_id = '17171717-aaaa-4aaa-8aaa-0000000000d1' $$,
  '23503', null, 'a booking cannot name another clinic''s procedure');
delete from clinic_procedures where id = '17171717-aaaa-4aaa-8aaa-0000000000e1';
select is((select clinic_id::text || '|' || coalesce(procedure_id::text, 'none') from bookings where slot_id = '17171717-aaaa-4aaa-8aaa-0000000000d1'),
  '17171717-aaaa-4aaa-8aaa-000000000001|none', 'deleting the procedure clears the booking''s procedure and keeps the booking');

select * from finish();
rollback;
