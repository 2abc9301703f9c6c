-- Every key includes clinic_id, so each clinic table can be distributed by clinic_id on Citus
-- (issue 16; README "Past one database"). Citus requires the distribution column in every primary
-- key, unique index and exclusion constraint of a distributed table and on both sides of foreign
-- keys between distributed tables (those were composite already). Checked for every table, present
-- and future, by tests/Frontdesk.Tests/Platform/ShardingReadinessTests.cs.
--
-- Key order: (clinic_id, id) — a clinic's rows sit together in the key, and every request path
-- filters by clinic (RLS adds it) — except outbox and sms_messages, which workers address by id
-- alone across clinics (claim joins, status updates): (id, clinic_id) keeps those index scans until
-- they pass clinic_id too. A foreign key may reference the columns of a unique index in any order.

-- Swaps a table's primary key for p_columns. Foreign keys pointing at the table (at its old key or
-- at a unique (clinic_id, id) beside it) are dropped and re-created unchanged against the new key,
-- including foreign keys other migrations added; the then redundant unique (clinic_id, id) goes.
create function pg_temp.rekey(p_table regclass, p_columns text) returns void language plpgsql as $$
declare
  v_fk record;
  v_fks text[] := '{}';
  v_stmt text;
  v_pk name;
begin
  for v_fk in select c.conrelid::regclass as tbl, c.conname, pg_get_constraintdef(c.oid) as def
                from pg_constraint c where c.contype = 'f' and c.confrelid = p_table loop
    execute format('alter table %s drop constraint %I', v_fk.tbl, v_fk.conname);
    v_fks := v_fks || format('alter table %s add constraint %I %s', v_fk.tbl, v_fk.conname, v_fk.def);
  end loop;
  for v_stmt in
    select format('alter table %s drop constraint %I', p_table, c.conname) from pg_constraint c
     where c.conrelid = p_table and c.contype = 'u'
       and (select array_agg(a.attname::text order by a.attname) from pg_attribute a
             where a.attrelid = p_table and a.attnum = any(c.conkey)) = array['clinic_id', 'id']
  loop
    execute v_stmt;
  end loop;
  select conname into v_pk from pg_constraint where conrelid = p_table and contype = 'p';
  execute format('alter table %s drop constraint %I', p_table, v_pk);
  execute format('alter table %s add constraint %I primary key (%s)', p_table, v_pk, p_columns);
  foreach v_stmt in array v_fks loop
    execute v_stmt;
  end loop;
end $$;

select pg_temp.rekey('practitioners', 'clinic_id, id');
select pg_temp.rekey('patients', 'clinic_id, id');
select pg_temp.rekey('calendar_slots', 'clinic_id, id');
select pg_temp.rekey('bookings', 'clinic_id, id');
select pg_temp.rekey('audit_trail', 'clinic_id, id');
select pg_temp.rekey('clinic_procedures', 'clinic_id, id');
select pg_temp.rekey('vapi_events', 'clinic_id, id');
select pg_temp.rekey('calls', 'clinic_id, id');
select pg_temp.rekey('leads', 'clinic_id, id');
select pg_temp.rekey('lead_followups', 'clinic_id, id');
select pg_temp.rekey('contacts', 'clinic_id, id');
select pg_temp.rekey('secure_identifiers', 'clinic_id, id');
select pg_temp.rekey('clinical_notes', 'clinic_id, id');
select pg_temp.rekey('public_transcripts', 'clinic_id, id');
select pg_temp.rekey('knowledge_documents', 'clinic_id, id');
select pg_temp.rekey('knowledge_chunks', 'clinic_id, id');
select pg_temp.rekey('knowledge_synonyms', 'clinic_id, id');
select pg_temp.rekey('calendar_jobs', 'clinic_id, id');
select pg_temp.rekey('outbox', 'id, clinic_id');
select pg_temp.rekey('sms_messages', 'id, clinic_id');

-- At most one live booking per slot, per clinic (a slot belongs to one clinic: the same rule).
drop index bookings_one_live_per_slot;
create unique index bookings_one_live_per_slot on bookings (clinic_id, slot_id) where status <> 'cancelled';

-- No two live bookings of one practitioner overlap; no two slots of one practitioner overlap.
alter table bookings drop constraint bookings_no_overlap,
  add constraint bookings_no_overlap exclude using gist
    (clinic_id with =, practitioner_id with =, tstzrange(starts_at, ends_at) with &&) where (status <> 'cancelled');
alter table calendar_slots drop constraint calendar_slots_no_overlap,
  add constraint calendar_slots_no_overlap exclude using gist
    (clinic_id with =, practitioner_id with =, tstzrange(starts_at, ends_at) with &&);

-- Provider ids are unique per clinic (they are globally unique at the provider anyway). Callbacks
-- find their row by the provider id alone, across clinics: a plain index serves that lookup.
alter table sms_messages drop constraint sms_messages_twilio_sid_key,
  add constraint sms_messages_twilio_sid_key unique (clinic_id, twilio_sid);
create index sms_messages_twilio_sid on sms_messages (twilio_sid) where twilio_sid is not null;
alter table calendar_syncs drop constraint calendar_syncs_channel_id_key,
  add constraint calendar_syncs_channel_id_key unique (clinic_id, channel_id);
create index calendar_syncs_channel on calendar_syncs (channel_id) where channel_id is not null;

-- Postings have no natural key worth an index; Citus moves shards by logical replication, which
-- needs a replica identity for the deletes that replace a document's postings.
alter table knowledge_postings replica identity full;
