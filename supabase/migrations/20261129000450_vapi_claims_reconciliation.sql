-- Issue 15: Vapi messages are claimed inside the transaction that processes them, and calls whose
-- end-of-call report never arrived are found by asking Vapi (reconciliation).

-- Claims held by a transaction ---------------------------------------------------------------------
-- The row of (clinic, call, type, discriminator) is inserted — or, when it exists, locked — by the
-- transaction that processes the message, and committed together with the message's effects and
-- its answer. A crash rolls the claim back with everything else, so no lease is needed; a
-- concurrent duplicate waits for the first delivery's transaction (at most p_wait_ms) and then sees
-- its answer, or, if the first died, takes the claim itself. A row committed without an answer (left
-- by the lease-based claims before this migration) is taken over by whoever locks it.
-- Returns the row id and its stored answer (null: the caller holds an unanswered claim), or
-- busy = true when the first delivery still held it after p_wait_ms.
create function public.vapi_claim(p_clinic_id uuid, p_call_id text, p_type text, p_discriminator text,
                                  p_event_at timestamptz, p_wait_ms int)
returns table (id bigint, response text, busy boolean)
language plpgsql security invoker
set search_path = public, pg_temp
-- Restored when the function returns: the bound applies to the claim, not to the work after it.
set lock_timeout from current
as $$
declare
  v_id bigint;
  v_response jsonb;
begin
  perform set_config('lock_timeout', greatest(p_wait_ms, 1)::text, true);
  begin
    insert into vapi_events as e (clinic_id, call_id, type, discriminator, event_at)
    values (p_clinic_id, p_call_id, p_type, p_discriminator, p_event_at)
    on conflict (clinic_id, call_id, type, discriminator) do nothing
    returning e.id into v_id;
    if v_id is not null then
      return query select v_id, null::text, false;
      return;
    end if;
    select e.id, e.response into v_id, v_response from vapi_events e
    where e.clinic_id = p_clinic_id and e.call_id = p_call_id and e.type = p_type and e.discriminator = p_discriminator
    for update;
  exception when lock_not_available then
    return query select null::bigint, null::text, true;
    return;
  end;
  if v_id is null then
    -- Deleted between our insert and our lock (the clinic went away): nothing to answer from.
    return query select null::bigint, null::text, true;
    return;
  end if;
  return query select v_id, v_response::text, false;
end $$;
revoke all on function public.vapi_claim(uuid, text, text, text, timestamptz, int) from public, anon, authenticated, service_role;
grant execute on function public.vapi_claim(uuid, text, text, text, timestamptz, int) to authenticated, service_role;

comment on column vapi_events.claimed_at is
  'When the answer was stored (claims are held by the processing transaction since 20261129000450; no lease).';

-- Reconciliation with Vapi's API, per clinic -------------------------------------------------------
-- The clinic's Vapi private API key (sealed under the master key, never returned) and the state of
-- its reconciliation runs. Workers claim due rows with FOR UPDATE SKIP LOCKED and move next_run_at
-- past a lease, so two instances never reconcile the same clinic at once and a crashed run is
-- picked up again when the lease ends.
create table vapi_reconciliation (
  clinic_id        uuid primary key references clinics(id) on delete cascade,
  api_key          bytea not null,            -- AES-256-GCM nonce‖ciphertext‖tag; associated data names the clinic
  api_key_kek      text not null check (length(api_key_kek) between 1 and 200),   -- key-encryption key id
  next_run_at      timestamptz not null default now(),   -- a running worker pushes it out by its lease
  last_run_at      timestamptz,
  last_success_at  timestamptz,
  last_error       text check (length(last_error) <= 500),   -- what Vapi answered; never the key
  failures         int not null default 0,    -- consecutive failed runs (backoff)
  recovered_last   int not null default 0,    -- calls processed by the last successful run
  recovered_total  bigint not null default 0,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
create index vapi_reconciliation_due on vapi_reconciliation (next_run_at);
alter table vapi_reconciliation enable row level security;
alter table vapi_reconciliation force row level security;
create policy vapi_reconciliation_tenant on vapi_reconciliation for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
revoke all on table vapi_reconciliation from public, anon, authenticated, service_role;
-- A clinic sets, replaces or removes its key and reads the state; the sealed key is read only by
-- the reconciliation worker (service_role).
grant select (clinic_id, next_run_at, last_run_at, last_success_at, last_error, failures, recovered_last, recovered_total, created_at, updated_at)
  on table vapi_reconciliation to authenticated;
grant insert (clinic_id, api_key, api_key_kek, next_run_at, updated_at) on table vapi_reconciliation to authenticated;
grant update (api_key, api_key_kek, next_run_at, failures, last_error, updated_at) on table vapi_reconciliation to authenticated;
grant delete on table vapi_reconciliation to authenticated;
grant select, insert, update, delete on table vapi_reconciliation to service_role;

-- Spelled out per table for the migration checker:
alter table vapi_reconciliation force row level security;
