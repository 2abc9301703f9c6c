-- One clinic's writers no longer queue on their clinic's row (issue 16).
--
-- Every insert into a table with `foreign key (clinic_id) references clinics` locks the clinic's row
-- FOR KEY SHARE until the transaction ends (PostgreSQL's referential-integrity check). Several
-- transactions holding that lock on one row share it through a MultiXact: each new locker creates a
-- new MultiXact of all current holders and rewrites the row's xmax under an exclusive lock on its
-- page. So every audited write, booking, reminder and message of a clinic went through one hot row,
-- and concurrent writers of one clinic waited on it where writers of different clinics did not.
-- Measured with `load claim` (raw claim_slot_atomic at 32 connections into one clinic that holds the
-- HTTP run's 4,000 bookings, against ten fresh clinics; one run each, 2 cores, after
-- …_reminders_arm_one_booking.sql): one/ten 0.85 and one/chain-off 0.87 with these keys on the clinic
-- row; 0.99 and 0.95 on the stripes.
--
-- The keys stay; they point at one of 16 stripe rows of the clinic instead of the clinic row. Each
-- row of the busy tables takes a random stripe (a column default), so concurrent writers of one
-- clinic lock different rows, as writers of different clinics always did. Deleting a clinic still
-- removes everything: clinics → clinic_stripes → these tables, each ON DELETE CASCADE. A row still
-- cannot name a clinic that does not exist, and the key includes clinic_id (Citus, README "Past one
-- database").
--
-- Configuration tables (practitioners, patients, procedures, settings, keys, knowledge, staff) keep
-- their plain key: they are written rarely, one row at a time.

create table clinic_stripes (
  clinic_id  uuid not null references clinics(id) on delete cascade,
  stripe     smallint not null check (stripe between 0 and 15),
  primary key (clinic_id, stripe)
);
comment on table clinic_stripes is
  'Sixteen rows per clinic that the busy tables'' foreign keys point at instead of the clinic row, so concurrent writers of one clinic do not share one row lock (issue 16).';
alter table clinic_stripes enable row level security;
alter table clinic_stripes force row level security;
create policy clinic_stripes_tenant on clinic_stripes for select to authenticated
  using (clinic_id = (select public.request_clinic_id()));
revoke all on table clinic_stripes from public, anon, authenticated, service_role;
grant select on table clinic_stripes to authenticated, service_role;

insert into clinic_stripes (clinic_id, stripe)
select c.id, s from clinics c cross join generate_series(0, 15) s;

-- Every new clinic gets its stripes in the transaction that creates it. Security definer: the roles
-- that create clinics have no privilege on clinic_stripes.
create or replace function public.clinic_stripes_create() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  insert into clinic_stripes (clinic_id, stripe) select new.id, s from generate_series(0, 15) s;
  return null;
end $$;
revoke all on function public.clinic_stripes_create() from public, anon, authenticated, service_role;
create trigger clinics_stripes after insert on clinics
  for each row execute function public.clinic_stripes_create();

-- Swaps p_table's foreign key to clinics(id) for one to the clinic's stripes. Existing rows take
-- stripe 0 (a constant default: no table rewrite); new rows a random stripe.
create function pg_temp.stripe(p_table regclass) returns void language plpgsql as $$
declare
  v_fk name;
begin
  select c.conname into strict v_fk from pg_constraint c
   where c.conrelid = p_table and c.contype = 'f' and c.confrelid = 'clinics'::regclass;
  execute format('alter table %s add column stripe smallint not null default 0', p_table);
  execute format('alter table %s alter column stripe set default floor(random() * 16)::smallint', p_table);
  execute format('alter table %s drop constraint %I', p_table, v_fk);
  execute format('alter table %s add constraint %I foreign key (clinic_id, stripe) references clinic_stripes (clinic_id, stripe) on delete cascade',
                 p_table, v_fk);
  execute format('comment on column %s.stripe is %L', p_table,
                 'Which of the clinic''s 16 clinic_stripes rows the foreign key locks (random per row; no meaning). Issue 16.');
end $$;

-- The tables every busy request path inserts into: audited writes, claims and moves, reminders,
-- calendar jobs, the outbox and messages, calls and their follow-ups, tool calls' events and gaps.
select pg_temp.stripe('audit_trail');
select pg_temp.stripe('bookings');
select pg_temp.stripe('booking_reminders');
select pg_temp.stripe('calendar_jobs');
select pg_temp.stripe('outbox');
select pg_temp.stripe('sms_messages');
select pg_temp.stripe('sms_replies');
select pg_temp.stripe('vapi_events');
select pg_temp.stripe('calls');
select pg_temp.stripe('leads');
select pg_temp.stripe('lead_followups');
select pg_temp.stripe('call_turn_latencies');
select pg_temp.stripe('callbacks');
select pg_temp.stripe('knowledge_gaps');

-- Deleting a clinic deletes its stripes first, and through them every row of the busy tables, before
-- the clinic row's own cascades run. Rows of the busy tables point with NO ACTION keys at rows those
-- cascades remove (a booking at its slot and its practitioner, a lead at its booking), and PostgreSQL
-- checks such keys in the order the deletions were queued: a booking still waiting for the stripes'
-- cascade when its practitioner's deletion is checked would refuse the whole delete. Security definer:
-- whoever may delete the clinic (service_role) has no privilege on clinic_stripes.
create or replace function public.clinic_stripes_delete() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  delete from clinic_stripes where clinic_id = old.id;
  return old;
end $$;
revoke all on function public.clinic_stripes_delete() from public, anon, authenticated, service_role;
create trigger clinics_stripes_delete before delete on clinics
  for each row execute function public.clinic_stripes_delete();
