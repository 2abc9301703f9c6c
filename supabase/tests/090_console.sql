-- Staff accounts of the console: one clinic's staff invisible to another's, no DELETE for the
-- application (accounts are disabled), an address unique within a clinic only, lower-case only.
begin;
create extension if not exists pgtap;
select plan(7);

insert into clinics (id, name) values ('99999999-0000-0000-0000-000000000001', 'Console A'), ('99999999-0000-0000-0000-000000000002', 'Console B');
insert into staff_accounts (id, clinic_id, email, display_name, role, password_hash, created_by) values
  ('99999999-1111-0000-0000-000000000001', '99999999-0000-0000-0000-000000000001', 'locum@pgtap.test', 'Locum A', 'doctor', repeat('h', 40), 'pgtap'),
  ('99999999-1111-0000-0000-000000000002', '99999999-0000-0000-0000-000000000002', 'locum@pgtap.test', 'Locum B', 'admin', repeat('h', 40), 'pgtap');

select throws_ok($$insert into staff_accounts (clinic_id, email, display_name, role, password_hash, created_by)
                   values ('99999999-0000-0000-0000-000000000001', 'locum@pgtap.test', 'Again', 'admin', repeat('h', 40), 'pgtap')$$,
  '23505', null, 'an address has at most one account per clinic');
select throws_ok($$insert into staff_accounts (clinic_id, email, display_name, role, password_hash, created_by)
                   values ('99999999-0000-0000-0000-000000000001', 'Upper@pgtap.test', 'Upper', 'admin', repeat('h', 40), 'pgtap')$$,
  '23514', null, 'addresses are stored lower-case');
select throws_ok($$insert into staff_accounts (clinic_id, email, display_name, role, password_hash, created_by)
                   values ('99999999-0000-0000-0000-000000000001', 'owner@pgtap.test', 'Owner', 'owner', repeat('h', 40), 'pgtap')$$,
  '23514', null, 'roles are admin, receptionist or doctor');

set local role authenticated;
select set_config('request.jwt.claims', '{"role":"authenticated","org_id":"99999999-0000-0000-0000-000000000002","app_role":"admin"}', true);
select is((select array_agg(display_name) from staff_accounts where email = 'locum@pgtap.test'), array['Locum B'],
  'a clinic sees only its own staff, even for an address shared with another clinic');
select is((select count(*)::int from staff_accounts where id = '99999999-1111-0000-0000-000000000001'), 0, 'not by id either');
update staff_accounts set role = 'admin' where id = '99999999-1111-0000-0000-000000000001';
select throws_ok($$delete from staff_accounts where id = '99999999-1111-0000-0000-000000000002'$$,
  '42501', null, 'the application never deletes an account (it disables it)');
reset role;
select is((select role from staff_accounts where id = '99999999-1111-0000-0000-000000000001'), 'doctor', 'another clinic''s update changed nothing');

select * from finish();
rollback;
