-- Privileges of the API roles (issue 12), checked over every object rather than a list, so a table,
-- view, sequence or function that a later migration creates without its own
--   revoke all on … from public, anon, authenticated, service_role;  grant <exactly what is needed> …
-- fails here. On Supabase (and on the Supabase-shaped test cluster) default privileges grant ALL on
-- every new object in public to anon, authenticated and service_role; on any PostgreSQL, PUBLIC may
-- execute every new function. Objects that belong to an extension (pg_trgm, btree_gist, …) are not
-- ours and keep their extension's grants.
begin;
create extension if not exists pgtap;
select plan(19);

-- Functions anon may execute, each with the reason. Empty: nothing in Frontdesk runs as anon.
create temporary table anon_callable (fn text primary key, reason text not null) on commit drop;
-- insert into anon_callable values ('public.example(uuid)', 'why a caller without a token needs it');

create temporary view our_relations as
  select c.oid, format('%I.%I', n.nspname, c.relname) as name, c.relkind
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname in ('public', 'frontdesk') and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
    and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e');

create temporary view our_functions as
  select p.oid, p.oid::regprocedure::text as name, p.prorettype = 'trigger'::regtype as is_trigger, p.prosecdef, p.proconfig
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where n.nspname in ('public', 'frontdesk') and p.prokind in ('f', 'p')
    and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e');

select cmp_ok((select count(*)::int from our_relations where relkind = 'r'), '>=', 28, 'the checks below see the tables');

-- anon ---------------------------------------------------------------------------------------------
select is(
  (select array_agg(r.name || ' ' || p order by r.name, p)
     from our_relations r
     cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
    where r.relkind <> 'S'
      and (has_table_privilege('anon', r.oid, p)
           or (p in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') and has_any_column_privilege('anon', r.oid, p)))),
  null,
  'anon holds no privilege on any table or view (nor on any of their columns)');

select is(
  (select array_agg(r.name || ' ' || p order by r.name, p)
     from our_relations r cross join unnest(array['USAGE', 'SELECT', 'UPDATE']) p
    where r.relkind = 'S' and has_sequence_privilege('anon', r.oid, p)),
  null,
  'anon holds no privilege on any sequence');

select is(
  (select array_agg(f.name order by f.name) from our_functions f
    where has_function_privilege('anon', f.oid, 'EXECUTE')
      and f.name not in (select fn from anon_callable)),
  null,
  'anon (and PUBLIC) may execute no function outside the allow-list');

-- authenticated and service_role -------------------------------------------------------------------
select is(
  (select array_agg(role || ' ' || r.name || ' ' || p order by role, r.name, p)
     from our_relations r
     cross join unnest(array['authenticated', 'service_role']) role
     cross join unnest(array['TRUNCATE', 'REFERENCES', 'TRIGGER']) p
    where r.relkind <> 'S'
      and (has_table_privilege(role, r.oid, p)
           or (p = 'REFERENCES' and has_any_column_privilege(role, r.oid, p)))),
  null,
  'authenticated and service_role hold no TRUNCATE, REFERENCES or TRIGGER on any table');

select is(
  (select array_agg(role || ' ' || r.name || ' ' || p order by role, r.name, p)
     from our_relations r
     cross join unnest(array['authenticated', 'service_role']) role
     cross join unnest(array['SELECT', 'UPDATE']) p
    where r.relkind = 'S' and has_sequence_privilege(role, r.oid, p)),
  null,
  'authenticated and service_role at most USE a sequence (no setval, no reading it)');

select is(
  (select array_agg(role || ' ' || f.name order by role, f.name)
     from our_functions f cross join unnest(array['authenticated', 'service_role']) role
    where f.is_trigger and has_function_privilege(role, f.oid, 'EXECUTE')),
  null,
  'no API role may execute a trigger function (triggers fire without a grant)');

select is(
  (select array_agg(f.name order by f.name) from our_functions f
    where f.prosecdef and not exists (select 1 from unnest(coalesce(f.proconfig, '{}')) c where c like 'search_path=%')),
  null,
  'every security definer function pins its search_path');

-- The append-only audit trail and the clinic row ----------------------------------------------------
-- INSERT is granted on the content columns only (issue 16): the chain position, the hashes, the
-- transaction id and the time come from defaults and the sealer, never from the writer.
select is(
  (select array_agg(role || ' ' || p order by role, p)
     from unnest(array['authenticated', 'service_role']) role
     cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
    where has_table_privilege(role, 'public.audit_trail', p)),
  array['authenticated SELECT', 'service_role SELECT'],
  'authenticated and service_role may only SELECT the audit trail as a whole (INSERT: content columns, below)');
select is(
  (select array_agg(role || ' ' || a.attname order by role, a.attname)
     from pg_attribute a cross join unnest(array['authenticated', 'service_role']) role
    where a.attrelid = 'public.audit_trail'::regclass and a.attnum > 0 and not a.attisdropped
      and has_column_privilege(role, 'public.audit_trail', a.attname, 'INSERT')),
  array['authenticated action', 'authenticated actor', 'authenticated clinic_id', 'authenticated detail', 'authenticated entity', 'authenticated entity_id',
        'service_role action', 'service_role actor', 'service_role clinic_id', 'service_role detail', 'service_role entity', 'service_role entity_id'],
  'authenticated and service_role INSERT the content columns only: seq, hashes, txid and time are not theirs to set');
select ok(not has_any_column_privilege('authenticated', 'public.audit_trail', 'UPDATE')
          and not has_any_column_privilege('service_role', 'public.audit_trail', 'UPDATE'),
  'no column of the audit trail is updatable by an API role');
select table_privs_are('public', 'clinics', 'authenticated', array['SELECT', 'UPDATE'],
  'a clinic member may read and update its clinic, never create or delete one');

-- The application login owns nothing and holds nothing of its own -----------------------------------
select is(
  (select array_agg(r.name order by r.name) from our_relations r
    where pg_get_userbyid((select relowner from pg_class where oid = r.oid)) in ('frontdesk_app', 'anon', 'authenticated', 'service_role')),
  null,
  'no table is owned by the application login or an API role');
select is(
  (select array_agg(r.name order by r.name) from our_relations r
    where r.relkind <> 'S' and has_table_privilege('frontdesk_app', r.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')),
  null,
  'frontdesk_app holds no table privilege without switching role');

-- The probes of issue 12, as the roles themselves -----------------------------------------------------
insert into clinics (id, name) values ('55555555-5555-5555-5555-555555555555', 'Privileges');
insert into audit_trail (clinic_id, actor, action) values ('55555555-5555-5555-5555-555555555555', 'test', 'probe');
select set_config('request.jwt.claims', '{"role":"authenticated","sub":"u-p","org_id":"55555555-5555-5555-5555-555555555555"}', true);
set local role authenticated;
select throws_ok($$ truncate audit_trail $$, '42501', null, 'authenticated cannot TRUNCATE a table (TRUNCATE ignores RLS)');
select throws_ok($$ delete from clinics where id = '55555555-5555-5555-5555-555555555555' $$, '42501', null,
  'authenticated cannot DELETE its own clinic');
select throws_ok($$ delete from audit_trail where clinic_id = '55555555-5555-5555-5555-555555555555' $$, '42501', null,
  'authenticated cannot DELETE from the audit trail');
reset role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);
set local role service_role;
select throws_ok($$ update audit_trail set action = 'forged' where clinic_id = '55555555-5555-5555-5555-555555555555' $$, '42501', null,
  'service_role cannot UPDATE the audit trail');
reset role;
set local role anon;
select throws_ok($$ select claim_slot_atomic(gen_random_uuid(), gen_random_uuid(), '55555555-5555-5555-5555-555555555555') $$, '42501', null,
  'anon cannot EXECUTE claim_slot_atomic');
reset role;

select * from finish();
rollback;
