-- The audit chain is sealed after commit, not at it (issue 16, ARCHITECTURE decision 14).
--
-- Before: a deferred trigger took a per-clinic advisory lock at every audited COMMIT and held it
-- through the WAL flush, so one clinic's writes (and its refusals, which are audited too) committed
-- one at a time. Now a row is inserted unsealed (seq, prev_hash, hash null) and stamped with its
-- transaction's 64-bit id; a background sealer (Audit/AuditSealer.cs, one per clinic at a time)
-- links committed rows into the clinic's chain shortly after.
--
-- Order. Identity values and xids are assigned at insert, not at commit, so a transaction that
-- began writing earlier can commit later. Sealing "whatever has committed" by id would either skip
-- such a row (a cursor past it) or chain rows in an order nobody can reproduce. Instead the chain
-- order is (txid, id): a row is sealable only once its txid is below the snapshot's xmin, i.e. once
-- every transaction that had begun writing when it did has ended. From then on no row can appear
-- before it, so every pass extends the chain in one fixed order and nothing is ever skipped. The
-- price is the window: a row waits for the longest writing transaction that overlapped it.

drop trigger if exists audit_seal on audit_trail;
drop function if exists public.audit_seal();

-- No default on the existing rows (they are sealed already); the default applies to new rows only.
alter table audit_trail add column txid xid8;
alter table audit_trail alter column txid set default pg_current_xact_id();
update audit_trail set txid = pg_current_xact_id() where seq is null;   -- none expected; never strand a row

comment on column audit_trail.txid is
  'The inserting transaction (pg_current_xact_id). The chain order is (txid, id); null only on rows sealed before issue 16.';
comment on column audit_trail.seq is
  'Position in the clinic''s hash chain; null until the sealer links the row (shortly after commit).';

-- What the sealer and the backlog gauges read: only unsealed rows, so it stays tiny.
create index audit_trail_unsealed on audit_trail (clinic_id, txid, id) where seq is null;

-- Append-only, and the position is not the writer's to choose: the API roles insert the content
-- columns only (seq, hashes, txid and the time come from defaults and the sealer).
revoke all on table audit_trail from public, anon, authenticated, service_role;
grant select on table audit_trail to authenticated, service_role;
grant insert (clinic_id, actor, action, entity, entity_id, detail) on table audit_trail to authenticated, service_role;

-- Seals up to p_limit committed rows of one clinic, in (txid, id) order, continuing its chain.
-- Returns how many it sealed; 0 when another sealer holds the clinic (SKIP-LOCKED style: a busy
-- clinic is skipped, never waited for). Security definer: the API roles have no UPDATE on the
-- trail, and this is the only code that writes seq and hashes.
create or replace function public.audit_seal_clinic(p_clinic_id uuid, p_limit int default 1000)
returns int
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  -- Rows of transactions older than every transaction still writing: final, and fully visible.
  v_horizon xid8 := pg_snapshot_xmin(pg_current_snapshot());
  v_seq bigint;
  v_prev bytea;
  v_hash bytea;
  v_count int := 0;
  r record;
begin
  if not pg_try_advisory_xact_lock(hashtextextended('audit:' || p_clinic_id::text, 0)) then
    return 0;
  end if;
  select a.seq, a.hash into v_seq, v_prev from audit_trail a
   where a.clinic_id = p_clinic_id and a.seq is not null order by a.seq desc limit 1;
  v_seq := coalesce(v_seq, 0);
  v_prev := coalesce(v_prev, '\x'::bytea);
  for r in
    select a.id, a.at, a.actor, a.action, a.entity, a.entity_id, a.detail from audit_trail a
     where a.clinic_id = p_clinic_id and a.seq is null and a.txid < v_horizon
     order by a.txid, a.id
     limit p_limit
  loop
    v_seq := v_seq + 1;
    v_hash := public.audit_row_digest(v_prev, p_clinic_id, v_seq, r.at, r.actor, r.action, r.entity, r.entity_id, r.detail);
    update audit_trail set seq = v_seq, prev_hash = v_prev, hash = v_hash
     where clinic_id = p_clinic_id and id = r.id;
    v_prev := v_hash;
    v_count := v_count + 1;
  end loop;
  return v_count;
end $$;

-- One pass over every clinic with sealable rows: (clinic, sealed) per clinic touched. The worker
-- calls this; a clinic that reports p_limit has more waiting.
create or replace function public.audit_seal_pending(p_limit int default 1000)
returns table (clinic_id uuid, sealed int)
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  v_horizon xid8 := pg_snapshot_xmin(pg_current_snapshot());
begin
  for clinic_id in
    select distinct a.clinic_id from audit_trail a where a.seq is null and a.txid < v_horizon
  loop
    sealed := public.audit_seal_clinic(clinic_id, p_limit);
    return next;
  end loop;
end $$;

-- The backlog for /healthz and the gauges: unsealed rows and the oldest one's time (service_role
-- reads every clinic's rows; no definer rights needed).
create or replace function public.audit_backlog()
returns table (unsealed bigint, oldest timestamptz)
language sql stable set search_path = public, pg_temp as $$
  select count(*), min(at) from audit_trail where seq is null
$$;

-- First broken link of a clinic's chain (no row when the chain verifies). Unsealed rows are not
-- part of the chain yet and are not checked, except that none may sit behind the chain's head.
create or replace function public.audit_verify(p_clinic_id uuid)
returns table (broken_seq bigint, reason text)
language plpgsql stable as $$
declare
  r record;
  v_prev bytea := '\x'::bytea;
  v_expected_seq bigint := 1;
  v_last_txid xid8;
  v_last_id bigint;
begin
  for r in select * from audit_trail where clinic_id = p_clinic_id and seq is not null order by seq loop
    if r.seq <> v_expected_seq then
      broken_seq := v_expected_seq; reason := 'missing row'; return next; return;
    end if;
    if r.prev_hash <> v_prev then
      broken_seq := r.seq; reason := 'previous hash does not match'; return next; return;
    end if;
    if r.hash <> public.audit_row_digest(r.prev_hash, r.clinic_id, r.seq, r.at, r.actor, r.action,
                                         r.entity, r.entity_id, r.detail) then
      broken_seq := r.seq; reason := 'content does not match its hash'; return next; return;
    end if;
    -- The sealer chains in (txid, id) order; rows sealed before issue 16 carry no txid.
    if r.txid is not null and v_last_txid is not null and (r.txid, r.id) <= (v_last_txid, v_last_id) then
      broken_seq := r.seq; reason := 'out of order'; return next; return;
    end if;
    if r.txid is not null then
      v_last_txid := r.txid; v_last_id := r.id;
    end if;
    v_prev := r.hash;
    v_expected_seq := v_expected_seq + 1;
  end loop;
  -- A row the sealer would have reached already but that has no position: its seq was removed.
  if v_last_txid is not null and exists (select 1 from audit_trail
       where clinic_id = p_clinic_id and seq is null and (txid, id) < (v_last_txid, v_last_id)) then
    broken_seq := v_expected_seq; reason := 'unsealed row behind the chain'; return next; return;
  end if;
end $$;

revoke all on function public.audit_seal_clinic(uuid, int) from public, anon, authenticated, service_role;
revoke all on function public.audit_seal_pending(int) from public, anon, authenticated, service_role;
revoke all on function public.audit_backlog() from public, anon, authenticated, service_role;
revoke all on function public.audit_verify(uuid) from public, anon, authenticated, service_role;
-- The sealer and the health check run as service_role through named SystemPaths (Platform/Db.cs).
grant execute on function public.audit_seal_clinic(uuid, int) to service_role;
grant execute on function public.audit_seal_pending(int) to service_role;
grant execute on function public.audit_backlog() to service_role;
grant execute on function public.audit_verify(uuid) to authenticated, service_role;

alter table audit_trail force row level security;
