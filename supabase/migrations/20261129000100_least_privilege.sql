-- Least privilege that does not depend on the database's default privileges (issue 12,
-- ARCHITECTURE decision 11).
--
-- On Supabase, `postgres` and `supabase_admin` carry default privileges in schema public that grant
-- ALL on every new table, sequence and function to anon, authenticated and service_role. The
-- migrations before this one only added narrow grants on top, so on Supabase `authenticated` could
-- TRUNCATE every clinic's rows (TRUNCATE ignores RLS), UPDATE and DELETE the append-only audit trail
-- and DELETE its own clinic, and `anon` could EXECUTE claim_slot_atomic. This migration fixes what
-- is deployed: every object the earlier migrations created loses every privilege of PUBLIC and of
-- the API roles, then gets back exactly what the application needs. Later migrations do the same for
-- what they create (revoke all … from public, anon, authenticated, service_role; then grant), and
-- supabase/tests/005_privileges.sql fails for any object that is left with more.
--
-- Never granted to an API role: TRUNCATE, REFERENCES, TRIGGER. Sequences behind identity columns
-- need no grant (identity values are drawn without a privilege check). Trigger functions need no
-- EXECUTE grant (firing a trigger checks none). SQL functions are EXECUTE for authenticated and
-- service_role — the roles the application switches to — and nobody else.
--
-- Deliberately NOT `alter default privileges … revoke`: default privileges belong to the role that
-- creates an object, and a migration can change only its own role's (`postgres` on Supabase), not
-- `supabase_admin`'s, nor those of whichever login runs `-- migrate` elsewhere; revoking Supabase's
-- defaults would also silently change how every other table of the project behaves for the Data API.
-- So safety never rests on defaults in either direction: each migration states its privileges, and
-- the test suite checks them on a database that keeps Supabase's defaults (tests/…/SupabaseCluster.cs).

-- Tables -----------------------------------------------------------------------------------------
revoke all on table
  clinics, practitioners, patients, calendar_slots, bookings, audit_trail,
  patient_keys, contacts, secure_identifiers, clinical_notes, public_transcripts,
  clinic_procedures, vapi_events, calls, sms_opt_outs, leads, lead_followups, sms_messages, outbox,
  call_turn_latencies,
  knowledge_documents, knowledge_chunks, knowledge_lexemes, knowledge_postings, knowledge_synonyms,
  calendar_jobs, calendar_syncs, calendar_events
  from public, anon, authenticated, service_role;
revoke all on table frontdesk.schema_migrations from public, anon, authenticated, service_role;

-- A clinic is created and deleted by service_role only; its members read and update their own row.
grant select, update on table clinics to authenticated;
grant select, insert, update, delete on table clinics to service_role;

-- Append-only for everyone: rows are sealed by audit_seal (security definer), never updated by a caller.
grant select, insert on table audit_trail to authenticated, service_role;

grant select, insert, update, delete on table
  practitioners, patients, calendar_slots, bookings,
  patient_keys, contacts, secure_identifiers, clinical_notes, public_transcripts,
  clinic_procedures, vapi_events, calls, sms_opt_outs, leads, lead_followups, sms_messages, outbox,
  call_turn_latencies,
  knowledge_documents, knowledge_chunks, knowledge_lexemes, knowledge_postings, knowledge_synonyms,
  calendar_jobs, calendar_syncs, calendar_events
  to authenticated, service_role;

-- /healthz reads the migration history as service_role.
grant select on table frontdesk.schema_migrations to service_role;

-- Sequences (identity columns: no grant needed) --------------------------------------------------
revoke all on sequence
  audit_trail_id_seq, vapi_events_id_seq, outbox_id_seq, knowledge_chunks_id_seq,
  knowledge_synonyms_id_seq, calendar_jobs_id_seq
  from public, anon, authenticated, service_role;

-- Functions --------------------------------------------------------------------------------------
revoke all on function
  public.request_clinic_id(),
  public.audit_row_digest(bytea, uuid, bigint, timestamptz, text, text, text, text, jsonb),
  public.audit_seal(),
  public.audit_verify(uuid),
  public.slot_alternatives(uuid, uuid, int),
  public.request_actor(),
  public.claim_slot(uuid, uuid, uuid, text, text, text),
  public.claim_slot_atomic(uuid, uuid, uuid),
  public.hold_slot(uuid, uuid, text, int),
  public.move_booking(uuid, uuid, uuid),
  public.cancel_booking(uuid, uuid),
  public.sha256_utf8(text),
  public.seed_clinic_procedures(),
  public.outbox_notify(),
  public.knowledge_search(uuid, text[], real[], text, real, int, int),
  public.calendar_mark_pending(),
  public.calendar_enqueue(),
  public.calendar_relink(uuid, uuid)
  from public, anon, authenticated, service_role;

-- Called by the application as either role, or evaluated for it: request_clinic_id in every
-- policy, sha256_utf8 in clinics' generated column, audit_row_digest inside audit_verify, and
-- slot_alternatives/request_actor inside the slot functions (all security invoker).
grant execute on function
  public.request_clinic_id(),
  public.audit_row_digest(bytea, uuid, bigint, timestamptz, text, text, text, text, jsonb),
  public.audit_verify(uuid),
  public.slot_alternatives(uuid, uuid, int),
  public.request_actor(),
  public.claim_slot(uuid, uuid, uuid, text, text, text),
  public.claim_slot_atomic(uuid, uuid, uuid),
  public.hold_slot(uuid, uuid, text, int),
  public.move_booking(uuid, uuid, uuid),
  public.cancel_booking(uuid, uuid),
  public.sha256_utf8(text),
  public.knowledge_search(uuid, text[], real[], text, real, int, int),
  public.calendar_relink(uuid, uuid)
  to authenticated, service_role;
-- Trigger functions (audit_seal, seed_clinic_procedures, outbox_notify, calendar_mark_pending,
-- calendar_enqueue): no grant — triggers fire without one, and nobody should call them directly.

-- auth.jwt() and auth.uid(), where the foundation created them (a bare cluster). On Supabase they
-- belong to supabase_auth_admin and keep Supabase's own grants.
do $$
declare
  f regprocedure;
begin
  foreach f in array array['auth.jwt()'::regprocedure, 'auth.uid()'::regprocedure] loop
    if (select pg_get_userbyid(proowner) from pg_proc where oid = f) = current_user then
      execute format('revoke all on function %s from public, anon, authenticated, service_role', f);
      execute format('grant execute on function %s to authenticated, service_role', f);
    end if;
  end loop;
end $$;
