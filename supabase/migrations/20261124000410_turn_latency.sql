-- Per-turn latency of calls, from Vapi's end-of-call report (artifact.performanceMetrics.turnLatencies).
-- The primary key makes a repeated report for the same call a no-op (insert … on conflict do nothing).
create table call_turn_latencies (
  clinic_id           uuid not null references clinics(id) on delete cascade,
  call_id             text not null check (length(call_id) between 1 and 200),
  turn                int not null check (turn >= 0),
  turn_ms             double precision,
  model_ms            double precision,
  voice_ms            double precision,
  transcriber_ms      double precision,
  endpointing_ms      double precision,
  call_ended_at       timestamptz not null default now(),
  recorded_at         timestamptz not null default now(),
  primary key (clinic_id, call_id, turn)
);
create index call_turn_latencies_clinic_ended on call_turn_latencies (clinic_id, call_ended_at);
alter table call_turn_latencies enable row level security;
alter table call_turn_latencies force row level security;
create policy call_turn_latencies_tenant on call_turn_latencies for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on call_turn_latencies to authenticated, service_role;
