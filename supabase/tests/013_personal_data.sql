-- Issue 13: personal values never go into the old plaintext columns, the key tables are tenant
-- tables with exactly the privileges they need, and a clinic cannot read another's caller keys.
begin;
create extension if not exists pgtap;
select plan(17);

select ok((select relrowsecurity and relforcerowsecurity from pg_class where oid = format('public.%I', t)::regclass),
          t || ' has RLS enabled and forced')
from unnest(array['clinic_keys', 'caller_keys']) t;
select policies_are('public', 'caller_keys', array['caller_keys_tenant']);
select policies_are('public', 'clinic_keys', array['clinic_keys_tenant']);

select ok(not has_table_privilege('anon', 'public.caller_keys', 'select'), 'anon cannot read caller keys');
select ok(not has_table_privilege('authenticated', 'public.clinic_keys', 'update, delete, truncate'),
  'a request can neither change nor delete a clinic''s lookup key');
select ok(not has_table_privilege('authenticated', 'public.caller_keys', 'truncate, references, trigger'),
  'no TRUNCATE, REFERENCES or TRIGGER on caller keys');

insert into clinics (id, name) values ('88888888-8888-8888-8888-888888888888', 'E'), ('99999999-9999-9999-9999-999999999999', 'F');

-- No statement writes a personal value into a column that used to hold it in plaintext.
select throws_ok($$ insert into leads (clinic_id, call_id, phone, procedure, source)
                    values ('88888888-8888-8888-8888-888888888888', 'c-1', '+447900000001', 'Facelift', 'test') $$,
  '23514', 'plaintext personal data refused in leads.phone', 'leads.phone refuses a number');
select throws_ok($$ insert into calls (clinic_id, call_id, report) values ('88888888-8888-8888-8888-888888888888', 'c-1', '{}') $$,
  '23514', 'plaintext personal data refused in calls.report', 'calls.report refuses a report');
select throws_ok($$ insert into sms_messages (clinic_id, to_phone, body, segments, encoding)
                    values ('88888888-8888-8888-8888-888888888888', '+447900000001', 'Hi', 1, 'GSM-7') $$,
  '23514', null, 'sms_messages refuses a plaintext recipient and body');
select throws_ok($$ insert into sms_opt_outs (clinic_id, phone, source) values ('88888888-8888-8888-8888-888888888888', '+447900000001', 'x') $$,
  '23514', null, 'sms_opt_outs refuses a plaintext number');
select lives_ok($$ insert into sms_opt_outs (clinic_id, phone_hash, source)
                   values ('88888888-8888-8888-8888-888888888888', decode(repeat('b1', 32), 'hex'), 'x') $$,
  'an opt-out by number hash is accepted');

-- Rows from before the guard may still be updated (a status change) and cleared.
-- (As the tables' owner, as the migrations ran: the guard is off only inside this rolled-back transaction.)
alter table leads disable trigger leads_refuse_plaintext;
insert into leads (id, clinic_id, call_id, phone, name, procedure, source)
values ('77777777-7777-7777-7777-777777777777', '88888888-8888-8888-8888-888888888888', 'c-old', '+447900000009', 'Old Name', 'Facelift', 'test');
alter table leads enable trigger leads_refuse_plaintext;
select lives_ok($$ update leads set source = 'vapi' where id = '77777777-7777-7777-7777-777777777777' $$,
  'an old plaintext row can still be updated');
select lives_ok($$ update leads set phone = null, name = null where id = '77777777-7777-7777-7777-777777777777' $$,
  'and cleared');

insert into caller_keys (clinic_id, caller_hash, key_id, wrapped_key)
values ('99999999-9999-9999-9999-999999999999', decode(repeat('c1', 32), 'hex'), 'k', '\x00');
select set_config('request.jwt.claims', '{"role":"authenticated","sub":"u-e","org_id":"88888888-8888-8888-8888-888888888888"}', true);
set local role authenticated;
select is((select count(*)::int from caller_keys), 0, 'clinic 8 sees none of clinic 9''s caller keys');
select is((select count(*)::int from caller_keys where clinic_id = '99999999-9999-9999-9999-999999999999'), 0,
  'not even by naming the clinic');
select throws_ok($$ insert into caller_keys (clinic_id, caller_hash, key_id, wrapped_key)
                    values ('99999999-9999-9999-9999-999999999999', decode(repeat('c2', 32), 'hex'), 'k', '\x00') $$,
  '42501', null, 'clinic 8 cannot make a key for clinic 9');

select * from finish();
rollback;
