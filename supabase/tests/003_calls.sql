-- Calls, follow-ups, SMS and the outbox: RLS forced with a tenant policy on every new table, the
-- idempotency keys that absorb duplicate webhooks, and the seeded procedure catalog.
begin;
create extension if not exists pgtap;
select plan(17);

select ok((select relrowsecurity and relforcerowsecurity from pg_class where oid = format('public.%I', t)::regclass),
          t || ' has RLS enabled and forced')
from unnest(array['clinic_procedures', 'vapi_events', 'calls', 'sms_opt_outs', 'leads', 'lead_followups', 'sms_messages', 'outbox']) t;

select policies_are('public', 'leads', array['leads_tenant']);
select policies_are('public', 'outbox', array['outbox_tenant']);

insert into clinics (id, name) values ('33333333-3333-3333-3333-333333333333', 'C'), ('44444444-4444-4444-4444-444444444444', 'D');
select is((select count(*)::int from clinic_procedures where clinic_id = '33333333-3333-3333-3333-333333333333'), 4,
  'a new clinic gets the seed''s four procedures');

-- Leads carry a number hash, never the number (issue 13).
insert into leads (clinic_id, call_id, phone_hash, procedure, source) values ('44444444-4444-4444-4444-444444444444', 'call-1', decode(repeat('a1', 32), 'hex'), 'Rhinoplasty', 'test');
select throws_ok($$ insert into leads (clinic_id, call_id, phone_hash, procedure, source)
                    values ('44444444-4444-4444-4444-444444444444', 'call-1', decode(repeat('a2', 32), 'hex'), 'Facelift', 'test') $$,
  '23505', null, 'one lead per clinic and call');
insert into vapi_events (clinic_id, call_id, type) values ('44444444-4444-4444-4444-444444444444', 'call-1', 'end-of-call-report');
select throws_ok($$ insert into vapi_events (clinic_id, call_id, type) values ('44444444-4444-4444-4444-444444444444', 'call-1', 'end-of-call-report') $$,
  '23505', null, 'one end-of-call report per call');

-- As clinic C.
select set_config('request.jwt.claims', '{"role":"authenticated","sub":"u-c","org_id":"33333333-3333-3333-3333-333333333333"}', true);
set local role authenticated;
select is((select count(*)::int from leads), 0, 'C sees none of D''s leads');
select is((select count(*)::int from vapi_events), 0, 'C sees none of D''s Vapi events');
select is((select count(*)::int from clinic_procedures), 4, 'C sees only its own procedures');
select throws_ok($$ insert into outbox (clinic_id, kind) values ('44444444-4444-4444-4444-444444444444', 'sms') $$,
  '42501', null, 'C cannot queue a job for D');

select * from finish();
rollback;
