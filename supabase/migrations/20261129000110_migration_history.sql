-- Which migrations are applied, whichever tool applied them (issue 12). Frontdesk's migrator records
-- each file's name in frontdesk.schema_migrations; `supabase db push` records its numeric prefix in
-- supabase_migrations.schema_migrations. /healthz runs as service_role and reads both through this
-- function, so service_role needs no access to the CLI's schema. Security definer with an empty
-- search_path: every name below is schema-qualified.
create or replace function frontdesk.applied_migrations() returns setof text
language plpgsql stable security definer set search_path = '' as $$
begin
  return query select m.version from frontdesk.schema_migrations m;
  if to_regclass('supabase_migrations.schema_migrations') is not null then
    return query execute 'select version from supabase_migrations.schema_migrations';
  end if;
exception when insufficient_privilege then
  -- The CLI's table belongs to another login than this function's owner: report what we can read.
  return query select m.version from frontdesk.schema_migrations m;
end $$;
revoke all on function frontdesk.applied_migrations() from public, anon, authenticated, service_role;
grant execute on function frontdesk.applied_migrations() to service_role;
