-- RLS policies: present on every clinic table, forced, effective for authenticated, and
-- service_role the only role that bypasses them. Runs with `pg_prove` (and `supabase test db`).
begin;
create extension if not exists pgtap;
select plan(19);

-- Every table with a clinic_id column (and clinics itself) has RLS enabled and forced.
select is(
  (select array_agg(c.relname::text order by c.relname)
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r'
      and (c.relname = 'clinics' or exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'clinic_id' and not a.attisdropped))
      and not (c.relrowsecurity and c.relforcerowsecurity)),
  null,
  'every clinic table has ENABLE and FORCE ROW LEVEL SECURITY');

select is(
  (select array_agg(c.relname::text order by c.relname)
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r'
      and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'clinic_id' and not a.attisdropped)
      and not exists (select 1 from pg_policies p where p.schemaname = 'public' and p.tablename = c.relname
                       and 'authenticated' = any (p.roles) and p.qual like '%request_clinic_id%')),
  null,
  'every clinic table has a policy for authenticated on the token''s org_id');

select is(
  (select array_agg(c.relname::text order by c.relname)
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r'
      and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'clinic_id' and not a.attisdropped)
      and not exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                       where i.indrelid = c.oid and a.attname = 'clinic_id')),
  null,
  'every clinic table has an index that leads with clinic_id');

select policies_are('public', 'bookings', array['bookings_tenant']);
select policies_are('public', 'patients', array['patients_tenant']);
select policies_are('public', 'calendar_slots', array['calendar_slots_tenant']);

-- service_role is the only non-superuser role that bypasses RLS.
select is(
  (select array_agg(rolname::text order by rolname) from pg_roles where rolbypassrls and not rolsuper
      and rolname not like 'supabase%' and rolname not in ('postgres')),
  array['service_role'],
  'service_role is the only bypass');

select is((select rolsuper or rolbypassrls from pg_roles where rolname = 'frontdesk_app'), false,
  'the application login neither is superuser nor bypasses RLS');
select is((select count(*)::int from pg_tables where schemaname = 'public' and tableowner = 'frontdesk_app'), 0,
  'the application login owns no table');

-- Two clinics with one booking each, made as the owner.
insert into clinics (id, name) values ('11111111-1111-1111-1111-111111111111', 'A'), ('22222222-2222-2222-2222-222222222222', 'B');
insert into practitioners (id, clinic_id, name) values
  ('a1111111-1111-1111-1111-111111111111', '11111111-1111-1111-1111-111111111111', 'Dr A'),
  ('b2222222-2222-2222-2222-222222222222', '22222222-2222-2222-2222-222222222222', 'Dr B');
insert into patients (id, clinic_id, name, phone) values
  ('a3333333-3333-3333-3333-333333333333', '11111111-1111-1111-1111-111111111111', 'Pat A', '+447911000001'),
  ('b4444444-4444-4444-4444-444444444444', '22222222-2222-2222-2222-222222222222', 'Pat B', '+447911000002');
insert into calendar_slots (id, clinic_id, practitioner_id, starts_at, ends_at) values
  ('a5555555-5555-5555-5555-555555555555', '11111111-1111-1111-1111-111111111111', 'a1111111-1111-1111-1111-111111111111', now() + interval '1 day', now() + interval '1 day 30 minutes'),
  ('b6666666-6666-6666-6666-666666666666', '22222222-2222-2222-2222-222222222222', 'b2222222-2222-2222-2222-222222222222', now() + interval '1 day', now() + interval '1 day 30 minutes'),
  ('b7777777-7777-7777-7777-777777777777', '22222222-2222-2222-2222-222222222222', 'b2222222-2222-2222-2222-222222222222', now() + interval '2 days', now() + interval '2 days 30 minutes');
select lives_ok($$ select claim_slot_atomic('b6666666-6666-6666-6666-666666666666', 'b4444444-4444-4444-4444-444444444444', '22222222-2222-2222-2222-222222222222') $$,
  'owner claims a slot in B');

-- As clinic A.
select set_config('request.jwt.claims', '{"role":"authenticated","sub":"u-a","org_id":"11111111-1111-1111-1111-111111111111"}', true);
set local role authenticated;
select is((select count(*)::int from bookings), 0, 'A sees none of B''s bookings');
select is((select count(*)::int from patients), 1, 'A sees only its own patient');
select is((select count(*)::int from clinics), 1, 'A sees only its own clinic');
select is((select claim_slot_atomic('b7777777-7777-7777-7777-777777777777', 'a3333333-3333-3333-3333-333333333333', '22222222-2222-2222-2222-222222222222') ->> 'status'), '404',
  'claiming B''s slot under A''s claims finds no slot');
select throws_ok($$ insert into patients (clinic_id, name) values ('22222222-2222-2222-2222-222222222222', 'Mallory') $$,
  '42501', null, 'inserting a row for B under A''s claims fails');
select is((select claim_slot_atomic('a5555555-5555-5555-5555-555555555555', 'a3333333-3333-3333-3333-333333333333', '11111111-1111-1111-1111-111111111111') ->> 'status'), '200',
  'A claims its own slot');

-- As service_role: sees both.
reset role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);
set local role service_role;
select is((select count(*)::int from bookings where clinic_id in ('11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222')), 2,
  'service_role sees both clinics');

-- With no claims at all, authenticated sees nothing.
reset role;
select set_config('request.jwt.claims', '', true);
set local role authenticated;
select is((select count(*)::int from bookings), 0, 'no claims, no rows');
reset role;

select is((select count(*)::int from audit_verify('11111111-1111-1111-1111-111111111111')), 0, 'an empty chain verifies');

select * from finish();
rollback;
