-- Reception (issue 17): settings, callbacks and knowledge gaps are clinic tables like the rest — RLS
-- forced, exact privileges — and the database holds the rules the code relies on: one callback per call
-- and kind, a transfer number in E.164, known statuses.
begin;
create extension if not exists pgtap;
select plan(14);

select ok((select bool_and(relrowsecurity and relforcerowsecurity) from pg_class
           where oid in ('public.reception_settings'::regclass, 'public.callbacks'::regclass, 'public.knowledge_gaps'::regclass)),
  'reception tables have RLS enabled and forced');
select ok(not has_table_privilege('anon', 'public.callbacks', 'select') and not has_table_privilege('anon', 'public.knowledge_gaps', 'select')
          and not has_table_privilege('anon', 'public.reception_settings', 'select'), 'anon reads none of them');
select ok(not has_table_privilege('authenticated', 'public.knowledge_gaps', 'delete')
          and not has_table_privilege('authenticated', 'public.reception_settings', 'delete'), 'the application deletes no settings or gaps');

insert into clinics (id, name) values ('a1000000-0000-0000-0000-000000000001', 'R'), ('a2000000-0000-0000-0000-000000000002', 'S');
insert into callbacks (clinic_id, call_id, kind, source, caller_hash, content, reason)
values ('a2000000-0000-0000-0000-000000000002', 'call-s', 'callback', 'request', '\x01', '\x02', 'S''s caller');
insert into knowledge_gaps (clinic_id, question, normalized) values ('a2000000-0000-0000-0000-000000000002', 'Do you sell vouchers?', 'do you sell vouchers');

-- As clinic R.
select set_config('request.jwt.claims', '{"role":"authenticated","sub":"u-r","org_id":"a1000000-0000-0000-0000-000000000001"}', true);
set local role authenticated;
select is((select count(*)::int from callbacks), 0, 'R sees none of S''s callbacks');
select is((select count(*)::int from knowledge_gaps), 0, 'R sees none of S''s gaps');
select throws_ok($$ insert into callbacks (clinic_id, call_id, kind, source, caller_hash, content, reason)
                    values ('a2000000-0000-0000-0000-000000000002', 'call-x', 'callback', 'request', '\x01', '\x02', 'x') $$,
  '42501', null, 'R cannot open a callback for S');
select lives_ok($$ insert into callbacks (clinic_id, call_id, kind, source, caller_hash, content, reason)
                   values ('a1000000-0000-0000-0000-000000000001', 'call-r', 'callback', 'request', '\x01', '\x02', 'wants a call') $$,
  'R opens its own callback');
select throws_ok($$ insert into callbacks (clinic_id, call_id, kind, source, caller_hash, content, reason)
                    values ('a1000000-0000-0000-0000-000000000001', 'call-r', 'callback', 'closed', '\x01', '\x02', 'again') $$,
  '23505', null, 'one callback per call and kind');
select lives_ok($$ insert into callbacks (clinic_id, call_id, kind, source, caller_hash, content, reason, priority)
                   values ('a1000000-0000-0000-0000-000000000001', 'call-r', 'emergency', 'emergency', '\x01', '\x02', 'urgent', 'urgent') $$,
  'an emergency of the same call is another kind');
select throws_ok($$ update callbacks set status = 'forgotten' where call_id = 'call-r' $$, '23514', null, 'status is open, done or no_answer');
select throws_ok($$ insert into reception_settings (clinic_id, transfer_number) values ('a1000000-0000-0000-0000-000000000001', '020 7123 4567') $$,
  '23514', null, 'a transfer number is E.164');
select lives_ok($$ insert into reception_settings (clinic_id, opening_hours, transfer_number) values ('a1000000-0000-0000-0000-000000000001', '{"mon": [["09:00","17:00"]]}', '+442071234567') $$,
  'R stores its settings');
select throws_ok($$ update reception_settings set transfer_mode = 'cold' $$, '23514', null, 'transfer mode is warm or blind');
select throws_ok($$ insert into reception_settings (clinic_id) values ('a2000000-0000-0000-0000-000000000002') $$,
  '42501', null, 'R cannot write S''s settings');

select * from finish();
rollback;
