-- Google calendars across clinics (issue 14). One service account serves every clinic, so any
-- calendar shared with it was reachable by every clinic's admin: linking accepted any calendar id.
-- Now a clinic links only a calendar whose description carries the clinic's verification code (the
-- API checks it through calendars.get), and a calendar is linked once, across all clinics.

-- Per clinic: the code an admin puts in a calendar's description to prove the clinic controls it.
-- Not a secret (it sits in the calendar's settings): it names the clinic, so only someone who can
-- edit the calendar can link it to that clinic.
alter table clinics add column calendar_verification_code text not null
  default ('frontdesk-verify-' || replace(gen_random_uuid()::text, '-', ''))
  check (length(calendar_verification_code) between 16 and 100);

-- Which clinic (and practitioner) holds each linked calendar. The primary key is the calendar alone,
-- on purpose without clinic_id: the rule is global, and under RLS no clinic can see another's links,
-- so only a constraint — not a query — can enforce it. A clinic learns of another's link only by the
-- violation, after proving it controls the calendar. (On Citus this table is distributed by
-- calendar_key or kept as a reference table; it is small and written only when a link changes.)
-- The key is SHA-256 of the calendar id in lower case (calendar ids are e-mail-like and case-blind):
-- the id itself, often a person's address, stays only on practitioners.calendar_id.
create table calendar_links (
  calendar_key     bytea primary key check (length(calendar_key) = 32),
  clinic_id        uuid not null references clinics(id) on delete cascade,
  practitioner_id  uuid not null,
  -- When the clinic last proved it controls the calendar; null: linked before proof was required.
  verified_at      timestamptz,
  created_at       timestamptz not null default now(),
  unique (clinic_id, practitioner_id),
  foreign key (clinic_id, practitioner_id) references practitioners (clinic_id, id) on delete cascade
);
alter table calendar_links enable row level security;
alter table calendar_links force row level security;
create policy calendar_links_tenant on calendar_links for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
revoke all on table calendar_links from public, anon, authenticated, service_role;
grant select, insert, update, delete on table calendar_links to authenticated, service_role;

-- Every path that sets practitioners.calendar_id registers the calendar here, so even code that
-- bypasses the API cannot link one calendar twice (23505 on calendar_links_pkey). Security invoker:
-- the row lands in the caller's own clinic, which RLS allows.
create or replace function public.calendar_link_register() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' then
    if new.calendar_id is not distinct from old.calendar_id then
      return null;
    end if;
    delete from calendar_links where clinic_id = old.clinic_id and practitioner_id = old.id;
  end if;
  if new.calendar_id is not null then
    insert into calendar_links (calendar_key, clinic_id, practitioner_id)
    values (public.sha256_utf8(lower(new.calendar_id)), new.clinic_id, new.id);
  end if;
  return null;
end $$;
revoke all on function public.calendar_link_register() from public, anon, authenticated, service_role;

-- Links made before this migration were never proved. A calendar linked more than once (by two
-- practitioners, possibly of two clinics) is what the rule forbids: every such link is undone the
-- way the API unlinks (sync state dropped, busy flags cleared, events re-homed by their jobs) and
-- recorded in the clinic's trail, so its admin relinks with proof. The others are kept, unverified.
do $$
declare
  r record;
begin
  for r in
    update practitioners p set calendar_id = null
     where lower(p.calendar_id) in (select lower(calendar_id) from practitioners where calendar_id is not null
                                     group by 1 having count(*) > 1)
    returning p.clinic_id, p.id
  loop
    delete from calendar_syncs where clinic_id = r.clinic_id and practitioner_id = r.id;
    update calendar_slots set busy = false where clinic_id = r.clinic_id and practitioner_id = r.id and busy;
    perform public.calendar_relink(r.clinic_id, r.id);
    insert into audit_trail (clinic_id, actor, action, entity, entity_id, detail)
    values (r.clinic_id, 'migration', 'calendar_unlinked', 'practitioner', r.id::text,
            '{"reason": "the calendar was linked more than once; relink it with the clinic''s verification code"}');
  end loop;
end $$;

insert into calendar_links (calendar_key, clinic_id, practitioner_id)
select public.sha256_utf8(lower(calendar_id)), clinic_id, id from practitioners where calendar_id is not null;

create trigger practitioners_calendar_link after insert or update of calendar_id on practitioners
  for each row execute function public.calendar_link_register();

-- Spelled out for the migration checker:
alter table calendar_links force row level security;
