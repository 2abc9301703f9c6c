-- The daily SMS quota without one lock per clinic (issue 16).
--
-- SmsGuard took a clinic's quota unit with an upsert on its one (clinic, day) row, in the
-- transaction that enqueues the message, and kept the row locked until that transaction ended: every
-- follow-up, confirmation and reminder of a clinic queued behind the one before it (measured: 50
-- concurrent end-of-call reports of one clinic spent most of their time waiting on that row). The
-- day's quota is now split over up to 16 stripes (rows) whose caps add up to the quota exactly; a
-- message takes a unit from a stripe no other transaction holds (SKIP LOCKED), and waits only when
-- every stripe with room is held by a transaction still in flight (which may roll back and give its
-- unit back). The total never exceeds the quota, a rolled-back message still gives its unit back,
-- and a refusal still means the day's units are all taken.
--
-- Stripe g < n = min(16, quota) holds at most cap(g) = quota / n + (g < quota % n ? 1 : 0) units;
-- stripe 16 keeps whatever is above the quota after the quota was lowered (it is never taken from),
-- so raising the quota again the same day does not forget what was sent.

alter table sms_daily_usage add column stripe smallint not null default 0 check (stripe between 0 and 16);
alter table sms_daily_usage drop constraint sms_daily_usage_pkey,
  add constraint sms_daily_usage_pkey primary key (clinic_id, day, stripe);

-- Lays a clinic's counts since p_from out over the stripes of p_quota, keeping each day's total.
-- Runs when the quota changes (trigger below) and once here for the rows that exist. Every stripe row
-- is created, then all are locked (waiting for messages in flight), then counted afresh, so no unit
-- taken meanwhile is lost. Security definer: the API roles may not delete usage rows, and an admin
-- changing the quota must rebalance whatever its role.
create or replace function public.sms_quota_rebalance(p_clinic_id uuid, p_quota int, p_from date)
returns void language plpgsql security definer set search_path = public, pg_temp as $$
begin
  insert into sms_daily_usage (clinic_id, day, stripe, sent)
  select p_clinic_id, d.day, g, 0
    from (select distinct day from sms_daily_usage where clinic_id = p_clinic_id and day >= p_from) d
    cross join generate_series(0, 16) g
  on conflict do nothing;
  perform 1 from sms_daily_usage where clinic_id = p_clinic_id and day >= p_from for update;
  with days as (
    select day, sum(sent)::int as total from sms_daily_usage where clinic_id = p_clinic_id and day >= p_from group by day
  ), shape as (
    select day, total, least(total, greatest(p_quota, 0)) as placed,
           greatest(p_quota, 1) as q, least(16, greatest(p_quota, 1)) as n
      from days
  )
  update sms_daily_usage u
     set sent = case when u.stripe = 16 then s.total - s.placed
                     when u.stripe >= s.n or p_quota <= 0 then 0
                     else least(s.q / s.n + case when u.stripe < s.q % s.n then 1 else 0 end,
                                greatest(0, s.placed - (u.stripe * (s.q / s.n) + least(u.stripe, s.q % s.n))))
                end
    from shape s
   where u.clinic_id = p_clinic_id and u.day = s.day;
end $$;

select public.sms_quota_rebalance(c.id, c.sms_daily_quota, '-infinity')
  from clinics c where exists (select 1 from sms_daily_usage u where u.clinic_id = c.id);

create or replace function public.sms_quota_changed() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  -- Yesterday in UTC covers "today" in every timezone; older days are never counted again.
  perform public.sms_quota_rebalance(new.id, new.sms_daily_quota, current_date - 1);
  return null;
end $$;
create trigger clinics_sms_quota_changed after update of sms_daily_quota on clinics
  for each row when (old.sms_daily_quota is distinct from new.sms_daily_quota)
  execute function public.sms_quota_changed();

-- Takes one unit of the clinic's quota for p_day in the caller's transaction (security invoker:
-- under RLS, as the caller). True when taken; false when the day's units are all taken.
create or replace function public.sms_take_unit(p_clinic_id uuid, p_day date, p_quota int)
returns boolean language plpgsql as $$
declare
  v_n int := least(16, greatest(p_quota, 1));   -- stripes that may hold units
  v_start int := floor(random() * v_n)::int;   -- where this taker starts looking, so takers spread
  v_stripe int;
begin
  if p_quota is null or p_quota <= 0 then
    return false;
  end if;
  for attempt in 1 .. 50 loop
    -- A stripe with room that no transaction in flight holds.
    select u.stripe into v_stripe from sms_daily_usage u
     where u.clinic_id = p_clinic_id and u.day = p_day and u.stripe < v_n
       and u.sent < p_quota / v_n + case when u.stripe < p_quota % v_n then 1 else 0 end
     order by (u.stripe - v_start + v_n) % v_n
     limit 1
     for update skip locked;
    if found then
      update sms_daily_usage set sent = sent + 1
       where clinic_id = p_clinic_id and day = p_day and stripe = v_stripe;
      return true;
    end if;
    -- A stripe not created yet today (the day's first takers create different ones).
    select g into v_stripe from generate_series(0, v_n - 1) g
     where not exists (select 1 from sms_daily_usage u where u.clinic_id = p_clinic_id and u.day = p_day and u.stripe = g)
     order by random() limit 1;
    if found then
      insert into sms_daily_usage (clinic_id, day, stripe, sent) values (p_clinic_id, p_day, v_stripe, 1)
      on conflict do nothing;
      if found then
        return true;
      end if;
      continue;   -- another transaction created it meanwhile: look again
    end if;
    -- Every stripe with room is held by a transaction in flight: wait for one (it may roll back, or
    -- commit and leave room). FOR UPDATE re-checks the room on the row's newest version.
    select u.stripe into v_stripe from sms_daily_usage u
     where u.clinic_id = p_clinic_id and u.day = p_day and u.stripe < v_n
       and u.sent < p_quota / v_n + case when u.stripe < p_quota % v_n then 1 else 0 end
     order by (u.stripe - v_start + v_n) % v_n
     limit 1
     for update;
    if found then
      update sms_daily_usage set sent = sent + 1
       where clinic_id = p_clinic_id and day = p_day and stripe = v_stripe;
      return true;
    end if;
    if not exists (select 1 from sms_daily_usage u
                    where u.clinic_id = p_clinic_id and u.day = p_day and u.stripe < v_n
                      and u.sent < p_quota / v_n + case when u.stripe < p_quota % v_n then 1 else 0 end) then
      return false;
    end if;
  end loop;
  return false;
end $$;

revoke all on function public.sms_quota_rebalance(uuid, int, date) from public, anon, authenticated, service_role;
revoke all on function public.sms_quota_changed() from public, anon, authenticated, service_role;
revoke all on function public.sms_take_unit(uuid, date, int) from public, anon, authenticated, service_role;
grant execute on function public.sms_take_unit(uuid, date, int) to authenticated, service_role;
