-- Vapi claims held by the processing transaction (vapi_claim) and the per-clinic reconciliation
-- state: RLS forced, the sealed API key readable by no API role but service_role, exact privileges.
begin;
create extension if not exists pgtap;
select plan(15);

select ok((select relrowsecurity and relforcerowsecurity from pg_class where oid = 'public.vapi_reconciliation'::regclass),
  'vapi_reconciliation has RLS enabled and forced');
select policies_are('public', 'vapi_reconciliation', array['vapi_reconciliation_tenant']);
select ok(not has_table_privilege('anon', 'public.vapi_reconciliation', 'select'), 'anon reads no reconciliation state');
select ok(not has_table_privilege('authenticated', 'public.vapi_reconciliation', 'truncate')
          and not has_table_privilege('service_role', 'public.vapi_reconciliation', 'truncate'), 'no API role may truncate');
select ok(not has_column_privilege('authenticated', 'public.vapi_reconciliation', 'api_key', 'select'),
  'authenticated cannot read the sealed key back');
select ok(not has_function_privilege('anon', 'public.vapi_claim(uuid, text, text, text, timestamptz, int)', 'execute'),
  'anon cannot claim Vapi events');

insert into clinics (id, name) values ('77777777-7777-7777-7777-777777777777', 'V'), ('88888888-8888-8888-8888-888888888888', 'W');
insert into vapi_reconciliation (clinic_id, api_key, api_key_kek) values ('88888888-8888-8888-8888-888888888888', '\x01', 'local:test');

-- As clinic V.
select set_config('request.jwt.claims', '{"role":"authenticated","sub":"u-v","org_id":"77777777-7777-7777-7777-777777777777"}', true);
set local role authenticated;
select is((select count(*)::int from vapi_reconciliation), 0, 'V sees none of W''s reconciliation state');
select lives_ok($$ insert into vapi_reconciliation (clinic_id, api_key, api_key_kek) values ('77777777-7777-7777-7777-777777777777', '\x02', 'local:test') $$,
  'V sets its own key');
select throws_ok($$ insert into vapi_reconciliation (clinic_id, api_key, api_key_kek) values ('88888888-8888-8888-8888-888888888888', '\x03', 'local:test') $$,
  '42501', null, 'V cannot set W''s key');
select throws_ok($$ select api_key from vapi_reconciliation $$, '42501', null, 'V cannot read its own sealed key');
select is((select failures from vapi_reconciliation), 0, 'V reads its own state');

select is((select busy from vapi_claim('77777777-7777-7777-7777-777777777777', 'call-9', 'end-of-call-report', '', null, 100)), false,
  'a first claim is granted');
select is((select response is null from vapi_claim('77777777-7777-7777-7777-777777777777', 'call-9', 'end-of-call-report', '', null, 100)), true,
  'the claim holder locks its own unanswered row again');
update vapi_events set response = '{"ok":true}' where call_id = 'call-9';
select is((select response from vapi_claim('77777777-7777-7777-7777-777777777777', 'call-9', 'end-of-call-report', '', null, 100)), '{"ok": true}',
  'an answered claim returns the stored answer');
select throws_ok($$ select * from vapi_claim('88888888-8888-8888-8888-888888888888', 'call-9', 'end-of-call-report', '', null, 100) $$,
  '42501', null, 'V cannot claim a message for W');

select * from finish();
rollback;
